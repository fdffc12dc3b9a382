//! A fault-injecting TCP proxy on loopback, for the tests: between two gateways (TLS passes
//! through untouched) or between a gateway and PostgreSQL. Each accepted connection gets a
//! fault from the current plan; `cut` closes every open connection and refuses new ones
//! until `restore`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// What happens to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Pass,
    /// RST once the client has sent half of `threshold` bytes (mid-request).
    ResetMidRequest,
    /// Stops forwarding either way once the client has sent `threshold` bytes; the
    /// connection stays open (the client's timeout must fire).
    Stall,
    /// Forwards only the first bytes of the server's answer, then closes.
    HalfResponse,
    /// Forwards the request whole, then drops the server's answer and closes: the server
    /// has done the work (committed), the client never learns it.
    LoseResponse,
    /// RST after a number of bytes (either way) picked per connection in 64..16384
    /// (for PostgreSQL: a connection lost mid-query or mid-transaction).
    ResetAfterBytes,
}

enum Plan {
    Always(Fault),
    /// Each connection draws a fault with these weights.
    /// The faults still owed once each come first, so every fault with a weight happens even
    /// in a short run; then each connection draws by weight.
    Random(Box<StdRng>, Vec<(Fault, u32)>, Vec<Fault>),
}

struct Shared {
    upstream: SocketAddr,
    plan: Mutex<Plan>,
    down: Mutex<bool>,
    open: Mutex<Vec<AbortHandle>>,
    counts: Mutex<HashMap<Fault, u64>>,
    refused: Mutex<u64>,
    /// Bytes the client sends before a threshold fault applies (past the TLS handshake).
    threshold: usize,
    rng: Mutex<StdRng>,
}

pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl FaultProxy {
    /// A proxy to `upstream` passing everything through. `threshold` is the number of bytes
    /// a client sends before the request faults apply; pick it above the TLS handshake.
    pub async fn start(upstream: SocketAddr, threshold: usize, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new(Plan::Always(Fault::Pass)),
            down: Mutex::new(false),
            open: Mutex::new(Vec::new()),
            counts: Mutex::new(HashMap::new()),
            refused: Mutex::new(0),
            threshold,
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed)),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                s.open.lock().retain(|h| !h.is_finished());
                if *s.down.lock() {
                    *s.refused.lock() += 1;
                    let _ = client.set_zero_linger();
                    drop(client);
                    continue;
                }
                let fault = match &mut *s.plan.lock() {
                    Plan::Always(f) => *f,
                    Plan::Random(_, _, owed) if !owed.is_empty() => owed.remove(0),
                    Plan::Random(rng, weights, _) => {
                        let total: u32 = weights.iter().map(|(_, w)| w).sum();
                        let mut pick = rng.gen_range(0..total.max(1));
                        weights
                            .iter()
                            .find(|(_, w)| {
                                if pick < *w {
                                    true
                                } else {
                                    pick -= w;
                                    false
                                }
                            })
                            .map(|(f, _)| *f)
                            .unwrap_or(Fault::Pass)
                    }
                };
                *s.counts.lock().entry(fault).or_default() += 1;
                let reset_after = s.rng.lock().gen_range(64..16384);
                let task = tokio::spawn(pipe(client, s.clone(), fault, reset_after));
                s.open.lock().push(task.abort_handle());
            }
        })
        .abort_handle();
        FaultProxy {
            port,
            shared,
            accept,
        }
    }

    pub fn set(&self, fault: Fault) {
        *self.shared.plan.lock() = Plan::Always(fault);
    }

    pub fn set_random(&self, seed: u64, weights: &[(Fault, u32)]) {
        let owed = weights
            .iter()
            .filter(|(f, w)| *w > 0 && *f != Fault::Pass)
            .map(|(f, _)| *f)
            .collect();
        *self.shared.plan.lock() = Plan::Random(
            Box::new(StdRng::seed_from_u64(seed)),
            weights.to_vec(),
            owed,
        );
    }

    /// Closes every open connection (RST) and refuses new ones until `restore`.
    pub fn cut(&self) {
        *self.shared.down.lock() = true;
        for h in self.shared.open.lock().drain(..) {
            h.abort();
        }
    }

    pub fn restore(&self) {
        *self.shared.down.lock() = false;
    }

    /// Connections per fault so far.
    pub fn counts(&self) -> HashMap<Fault, u64> {
        self.shared.counts.lock().clone()
    }

    /// Connections refused while cut.
    pub fn refused(&self) -> u64 {
        *self.shared.refused.lock()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for h in self.shared.open.lock().drain(..) {
            h.abort();
        }
    }
}

async fn pipe(client: TcpStream, shared: Arc<Shared>, fault: Fault, reset_after: usize) {
    let Ok(upstream) = TcpStream::connect(shared.upstream).await else {
        let _ = client.set_zero_linger();
        return;
    };
    // Dropping with linger 0 sends RST instead of FIN: an abrupt loss.
    let _ = client.set_zero_linger();
    let _ = upstream.set_zero_linger();
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let threshold = shared.threshold;
    let mut sent = 0usize;
    let mut total = 0usize;
    let mut client_open = true;
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut ubuf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            n = cr.read(&mut cbuf), if client_open => match n {
                Ok(0) | Err(_) => {
                    client_open = false;
                    let _ = uw.shutdown().await;
                }
                Ok(n) => {
                    sent += n;
                    total += n;
                    match fault {
                        Fault::ResetMidRequest if sent >= threshold / 2 => return,
                        Fault::ResetAfterBytes if total >= reset_after => return,
                        Fault::Stall if sent >= threshold => {
                            let _ = uw.write_all(&cbuf[..n]).await;
                            std::future::pending::<()>().await;
                        }
                        _ => {}
                    }
                    if uw.write_all(&cbuf[..n]).await.is_err() {
                        return;
                    }
                }
            },
            n = ur.read(&mut ubuf) => match n {
                Ok(0) | Err(_) => {
                    let _ = cw.shutdown().await;
                    return;
                }
                Ok(n) => {
                    total += n;
                    if sent >= threshold {
                        match fault {
                            Fault::HalfResponse => {
                                let _ = cw.write_all(&ubuf[..n.min(24)]).await;
                                let _ = cw.flush().await;
                                return;
                            }
                            Fault::LoseResponse => return,
                            _ => {}
                        }
                    }
                    if fault == Fault::ResetAfterBytes && total >= reset_after {
                        return;
                    }
                    if cw.write_all(&ubuf[..n]).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}
