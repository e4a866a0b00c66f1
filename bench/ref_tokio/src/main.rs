//! ref_tokio - a reference server for side-by-side benchmarks: the same
//! NDJSON JSON-RPC 2.0 framing as sbkd, with the jobs run through tokio's
//! `spawn_blocking` (the "tokio spawn_blocking" pattern sbkd is compared
//! with).  Like bench/ref_executor.py it implements only what the
//! benchmarks use: ping (inline), spin and sleep (on the blocking pool),
//! and -32700/-32600/-32601 errors.  Not a product: no queue bound, no
//! fairness, no cancellation, no limits.
//!
//! The runtime is set up the way a typical service does it: a default
//! multi-thread runtime (one worker per CPU) with the blocking pool capped
//! at WORKERS threads (default: the number of CPUs).  Each connection has
//! a reader task and a writer task; replies go through an mpsc channel to
//! the writer, so they are written asynchronously in completion order.
//!
//! usage: ref_tokio SOCKET [WORKERS]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

type Tx = mpsc::UnboundedSender<Vec<u8>>;

/// `{"jsonrpc":"2.0","id":ID,"result"|"error":BODY}\n`, compact, in that
/// key order (serde_json's own maps would sort the keys).
fn reply(id: Value, body: (&str, Value)) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    serde_json::to_writer(&mut out, &id).expect("serialise id");
    out.extend_from_slice(b",\"");
    out.extend_from_slice(body.0.as_bytes());
    out.extend_from_slice(b"\":");
    serde_json::to_writer(&mut out, &body.1).expect("serialise body");
    out.extend_from_slice(b"}\n");
    out
}

fn result(id: Value, r: Value) -> Vec<u8> {
    reply(id, ("result", r))
}

fn error(id: Value, code: i64, message: &str) -> Vec<u8> {
    reply(id, ("error", json!({"code": code, "message": message})))
}

fn ms_of(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1000.0)
    } else {
        Duration::ZERO
    }
}

fn spin(ms: f64) -> Value {
    let start = Instant::now();
    let end = start + ms_of(ms);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
    json!({"spun_ms": start.elapsed().as_millis() as u64})
}

fn sleep(ms: f64) -> Value {
    let start = Instant::now();
    std::thread::sleep(ms_of(ms));
    json!({"slept_ms": start.elapsed().as_millis() as u64})
}

/// Writer task: sends replies as they arrive, coalescing whatever is
/// already queued into one write.  Ends when every sender (the reader and
/// each job still running) has gone.
async fn write_loop(mut w: tokio::net::unix::OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut buf = Vec::new();
    while let Some(first) = rx.recv().await {
        buf.clear();
        buf.extend_from_slice(&first);
        while buf.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(more) => buf.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if w.write_all(&buf).await.is_err() {
            return; // peer gone: drop the rest
        }
    }
    let _ = w.shutdown().await;
}

fn dispatch(line: &[u8], tx: &Tx) {
    let req: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(_) => {
            let _ = tx.send(error(Value::Null, -32700, "Parse error"));
            return;
        }
    };
    let obj = match req.as_object() {
        Some(o) if o.get("jsonrpc").and_then(Value::as_str) == Some("2.0") => o,
        _ => {
            let _ = tx.send(error(Value::Null, -32600, "Invalid request"));
            return;
        }
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let job: fn(f64) -> Value = match obj.get("method").and_then(Value::as_str) {
        Some("ping") => {
            let _ = tx.send(result(id, json!({"pong": true})));
            return;
        }
        Some("spin") => spin,
        Some("sleep") => sleep,
        _ => {
            let _ = tx.send(error(id, -32601, "Method not found"));
            return;
        }
    };
    let ms = obj
        .get("params")
        .and_then(|p| p.get("ms"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let tx = tx.clone();
    // Fire and forget: the reply goes out through the channel when the
    // job finishes, whatever order that is in.
    tokio::task::spawn_blocking(move || {
        let _ = tx.send(result(id, job(ms)));
    });
}

async fn handle(stream: UnixStream) {
    let (r, w) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(w, rx));
    let mut reader = BufReader::new(r);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        dispatch(&line, &tx);
    }
    drop(tx); // the writer ends once the jobs still running have replied
    let _ = writer.await;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: ref_tokio SOCKET [WORKERS]");
        std::process::exit(2);
    }
    let path = args[1].clone();
    let workers = match args.get(2) {
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("ref_tokio: WORKERS must be a positive integer");
                std::process::exit(2);
            }
        },
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(workers)
        .enable_io()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let _ = std::fs::remove_file(&path);
        let listener = match UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ref_tokio: bind {path}: {e}");
                std::process::exit(1);
            }
        };
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(handle(stream));
                }
                Err(e) => {
                    // EMFILE and the like: back off briefly, keep serving.
                    eprintln!("ref_tokio: accept: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    });
}
