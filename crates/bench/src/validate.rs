//! `sedgate bench validate`: validations per second of one SED on one validator thread,
//! against Python `xmlschema` validating the same file with the same schema for the same
//! time. Both parse the bytes on every round, as intake does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::json;

use super::{bounded_seconds, io_error, write_json, BenchError};
use sedgate_base::domain::{CdmVersion, SedType};
use sedgate_gateway::config::Config;
use sedgate_gateway::sed::{bench_validations, XsdPool};

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Seconds to measure each validator.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The SED to validate.
    #[arg(long, default_value = "tests/fixtures/sed/4.2/P2000/valid-10k.xml")]
    pub file: PathBuf,
    #[arg(long, default_value = "4.2")]
    pub cdm: CdmVersion,
    #[arg(long, default_value = "P2000")]
    pub sed: SedType,
    /// Python interpreter with xmlschema; default `$SEDGATE_TEST_PYTHON`, else `python3`.
    #[arg(long)]
    pub python: Option<String>,
}

/// Validates the file for `seconds` and prints JSON: validations, seconds, version.
const PYTHON_SCRIPT: &str = r#"
import io, json, sys, time
import xmlschema
schema = xmlschema.XMLSchema(sys.argv[1])
data = open(sys.argv[2], "rb").read()
seconds = float(sys.argv[3])
errors = [str(e) for e in schema.iter_errors(io.BytesIO(data))]
if errors:
    print(json.dumps({"invalid": errors[:3]}))
    sys.exit(3)
n = 0
start = time.perf_counter()
while time.perf_counter() - start < seconds:
    schema.validate(io.BytesIO(data))
    n += 1
print(json.dumps({"validations": n, "seconds": time.perf_counter() - start,
                  "version": xmlschema.__version__}))
"#;

pub struct PythonFigure {
    pub per_second: f64,
    pub version: String,
    pub interpreter: String,
}

fn python_interpreter(args: &ValidateArgs) -> String {
    args.python
        .clone()
        .or_else(|| std::env::var("SEDGATE_TEST_PYTHON").ok())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".to_owned())
}

fn python_figure(
    interpreter: &str,
    schema: &Path,
    file: &Path,
    seconds: f64,
) -> Result<PythonFigure, BenchError> {
    let failed = |detail: String| BenchError::Python {
        interpreter: interpreter.to_owned(),
        detail,
    };
    let output = Command::new(interpreter)
        .arg("-c")
        .arg(PYTHON_SCRIPT)
        .arg(schema)
        .arg(file)
        .arg(seconds.to_string())
        .output()
        .map_err(|e| failed(format!("cannot run it: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(failed(format!(
            "exited with {}: {}{}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let result: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| failed(format!("unreadable output {stdout:?}: {e}")))?;
    let validations = result["validations"].as_f64().unwrap_or(0.0);
    let elapsed = result["seconds"].as_f64().unwrap_or(0.0);
    if validations <= 0.0 || elapsed <= 0.0 {
        return Err(failed(format!("no validations measured: {result}")));
    }
    Ok(PythonFigure {
        per_second: validations / elapsed,
        version: result["version"].as_str().unwrap_or("?").to_owned(),
        interpreter: interpreter.to_owned(),
    })
}

pub fn run(config: &Config, args: &ValidateArgs) -> Result<(), BenchError> {
    let seconds = bounded_seconds(args.seconds);
    let bytes = std::fs::read(&args.file).map_err(io_error(&args.file))?;
    let xml: Arc<[u8]> = Arc::from(bytes);
    let schema_dir = &sedgate_gateway::app::schema_dir(config)?;
    // One thread: the figure is per core.
    let pool = XsdPool::start(schema_dir, 1)?;
    let findings = pool.validate_blocking(args.cdm, &args.sed, Arc::clone(&xml))?;
    if let Some(first) = findings.first() {
        return Err(BenchError::InvalidSample {
            path: args.file.clone(),
            detail: format!(
                "{}:{} {} {}",
                first.line, first.column, first.path, first.message
            ),
        });
    }
    println!(
        "validating {} ({} bytes, {} CDM {}) for {seconds} s each...",
        args.file.display(),
        xml.len(),
        args.sed,
        args.cdm
    );
    let ours = bench_validations(&pool, args.cdm, &args.sed, Arc::clone(&xml), seconds)?;
    drop(pool);
    let schema = schema_dir
        .join(args.cdm.as_str())
        .join(format!("{}.xsd", args.sed));
    let python = python_figure(&python_interpreter(args), &schema, &args.file, seconds)?;
    let ratio = ours / python.per_second;
    println!();
    println!(
        "{:<36} {:>16} {:>10}",
        "validator (1 core)", "validations/s", "relative"
    );
    println!(
        "{:<36} {:>16.0} {:>10}",
        "sedgate (libxml2 XsdPool, 1 thread)", ours, "1.00"
    );
    println!(
        "{:<36} {:>16.0} {:>10.4}",
        format!("python xmlschema {}", python.version),
        python.per_second,
        python.per_second / ours
    );
    println!("sedgate is {ratio:.1}x the Python figure");
    write_json(
        args.json.as_deref(),
        &json!({
            "benchmark": "validate",
            "file": args.file.display().to_string(),
            "bytes": xml.len(),
            "cdm": args.cdm.as_str(),
            "sed_type": args.sed.as_str(),
            "seconds": seconds,
            "sedgate": { "validator": "libxml2 via XsdPool", "threads": 1, "validations_per_second": ours },
            "python": {
                "validator": format!("xmlschema {}", python.version),
                "interpreter": python.interpreter,
                "validations_per_second": python.per_second,
            },
            "ratio": ratio,
        }),
    )
}
