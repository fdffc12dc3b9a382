//! `sedgate bench ir`: how long the IR takes to import, index and answer, on the shipped
//! data (Organisations.csv + the P_BUC_01 extract), in the configured database.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;

use super::{write_json, BenchError};
use sedgate_base::domain::{BucRole, CountryCode};
use sedgate_gateway::config::Config;
use sedgate_gateway::ir::importer::import_file;
use sedgate_gateway::ir::{route, IrIndex, RouteQuery, SearchQuery};
use sedgate_gateway::store::Store;

#[derive(clap::Args, Debug)]
pub struct IrArgs {
    /// Database URL to measure on (default: a fresh SQLite file in a temp dir).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Where the shipped seed data lives.
    #[arg(long, default_value = "seed/institutions")]
    pub seed: PathBuf,
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn per_op_ns(iterations: u64, f: impl FnMut(u64)) -> f64 {
    let mut f = f;
    let start = Instant::now();
    for i in 0..iterations {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / iterations as f64
}

pub async fn run(config: &Config, args: &IrArgs) -> Result<(), BenchError> {
    let dir = tempfile::tempdir().map_err(|e| BenchError::Setup(format!("temp dir: {e}")))?;
    let (engine, url) = match &args.database_url {
        Some(url) if url.starts_with("postgres") => {
            (sedgate_gateway::config::Engine::Postgres, url.clone())
        }
        Some(url) => (sedgate_gateway::config::Engine::Sqlite, url.clone()),
        None => (
            sedgate_gateway::config::Engine::Sqlite,
            format!("sqlite://{}", dir.path().join("ir.db").display()),
        ),
    };
    let store = Store::open(&sedgate_gateway::store::StoreConfig {
        max_connections: config.database.max_connections,
        inline_payload_bytes: config.database.inline_payload_bytes,
        role: sedgate_gateway::store::Role::Tool,
        ..sedgate_gateway::store::StoreConfig::new(engine, url, dir.path().join("blobs"))
    })
    .await?;
    let mut rows = Vec::new();
    for file in ["Organisations.csv", "deltakere_p_buc_01_all.json"] {
        let path: &Path = &args.seed.join(file);
        let start = Instant::now();
        let summary = import_file(&store, path, None, false, &|_, _| {})
            .await
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let first = start.elapsed();
        let start = Instant::now();
        import_file(&store, path, None, false, &|_, _| {})
            .await
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        rows.push((file, summary.records, first, start.elapsed()));
    }
    let start = Instant::now();
    let snapshot = store.load_ir().await?;
    let load = start.elapsed();
    let start = Instant::now();
    let index = IrIndex::build(snapshot);
    let build = start.elapsed();

    let ids: Vec<_> = index.institutions().iter().map(|i| i.id.clone()).collect();
    let n = ids.len() as u64;
    let lookup_ns = per_op_ns(1_000_000, |i| {
        std::hint::black_box(index.get(&ids[(i % n) as usize]));
    });
    let home: CountryCode = "AT"
        .parse()
        .map_err(|e| BenchError::Setup(format!("{e}")))?;
    let query = RouteQuery {
        home_country: home,
        sender: "AT:0100"
            .parse()
            .map_err(|e| BenchError::Setup(format!("{e}")))?,
        receiver: "NO:NAVAT07"
            .parse()
            .map_err(|e| BenchError::Setup(format!("{e}")))?,
        buc: "P_BUC_01"
            .parse()
            .map_err(|e| BenchError::Setup(format!("{e}")))?,
        receiver_role: Some(BucRole::CounterParty),
        sender_role: Some(BucRole::CaseOwner),
        on: Utc::now(),
    };
    let route_ns = per_op_ns(200_000, |_| {
        // Without access points the decision ends in NoAccessPoint: all checks before it run.
        std::hint::black_box(route(&index, &query).ok());
    });
    let search = SearchQuery {
        country: Some(
            "NO".parse()
                .map_err(|e| BenchError::Setup(format!("{e}")))?,
        ),
        buc: Some(
            "P_BUC_01"
                .parse()
                .map_err(|e| BenchError::Setup(format!("{e}")))?,
        ),
        role: Some(BucRole::CounterParty),
        q: None,
        on: None,
        offset: 0,
        limit: 50,
    };
    let search_ns = per_op_ns(20_000, |_| {
        std::hint::black_box(index.search(&search).total);
    });

    println!("IR benchmark on {engine:?} ({} institutions)", index.len());
    println!(
        "{:<32} {:>8} {:>12} {:>12}",
        "import", "records", "first (ms)", "again (ms)"
    );
    for (file, records, first, again) in &rows {
        println!(
            "{:<32} {:>8} {:>12.1} {:>12.1}",
            file,
            records,
            first.as_secs_f64() * 1e3,
            again.as_secs_f64() * 1e3
        );
    }
    println!(
        "load from database            {:>10.1} ms",
        load.as_secs_f64() * 1e3
    );
    println!(
        "build in-memory index         {:>10.1} ms",
        build.as_secs_f64() * 1e3
    );
    println!("lookup by id                  {lookup_ns:>10.0} ns");
    println!("routing decision              {route_ns:>10.0} ns");
    println!("search NO + P_BUC_01 + role   {search_ns:>10.0} ns");
    let json = serde_json::json!({
        "engine": format!("{engine:?}"),
        "institutions": index.len(),
        "imports": rows.iter().map(|(f, r, a, b)| serde_json::json!({
            "file": f, "records": r, "first_ms": a.as_secs_f64() * 1e3, "again_ms": b.as_secs_f64() * 1e3,
        })).collect::<Vec<_>>(),
        "load_ms": load.as_secs_f64() * 1e3,
        "index_build_ms": build.as_secs_f64() * 1e3,
        "lookup_ns": lookup_ns,
        "route_ns": route_ns,
        "search_ns": search_ns,
    });
    write_json(args.json.as_deref(), &json)
}
