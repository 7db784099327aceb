//! Load measurement for the camera simulator (not a pass/fail test; ignored by default).
//!
//! The server runs alone on one thread (a current-thread tokio runtime, i.e. at most one core);
//! a raw TCP client (SETUP, PLAY, then count RTP frames) runs on another thread. For each session
//! count it reports the frame rate clients actually received and the server thread's CPU time per
//! frame, read from the server thread's `/proc/…/task/TID/schedstat` (`xueliang_testkit::proc`).
//! Loopback TCP makes the sender's thread pay for much of the receive path too, so the number is
//! "server cost on this machine".
//!
//! ```text
//! cargo test --release -p xueliang-camsim --test camsim_load -- --ignored --nocapture
//! CAMSIM_LOAD_SESSIONS=500,1000,2000 CAMSIM_LOAD_SECS=10 CAMSIM_LOAD_CLIP=360p (defaults)
//! CAMSIM_LOAD_CLIENT=retina   (the client ingest uses, instead of the raw frame counter)
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use xueliang_camsim::{self as camsim, CamsimOptions, CamsimStats, ClipPreset};
use xueliang_testkit::proc::ThreadTask;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// CPU seconds so far of a thread (read from any thread).
fn cpu_secs(task: &ThreadTask) -> f64 {
    task.cpu().as_secs_f64()
}

async fn read_response(s: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let n = s.read_line(&mut head).await.unwrap();
        assert!(n > 0, "closed during response");
        if head.ends_with("\r\n\r\n") {
            return head;
        }
    }
}

async fn session(addr: SocketAddr, camera: usize, frames: Arc<AtomicU64>) {
    let mut s = BufReader::with_capacity(64 * 1024, TcpStream::connect(addr).await.unwrap());
    let url = format!("rtsp://{addr}/cam/{camera}");
    s.write_all(
        format!(
            "SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n\
             Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let setup = read_response(&mut s).await;
    let id = setup
        .lines()
        .find_map(|l| l.strip_prefix("Session: "))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    s.write_all(format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {id}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_response(&mut s).await;
    let mut buf = vec![0u8; 65_536];
    loop {
        let mut hdr = [0u8; 4];
        if s.read_exact(&mut hdr).await.is_err() {
            return;
        }
        let len = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        if s.read_exact(&mut buf[..len]).await.is_err() {
            return;
        }
        if hdr[1] == 0 && buf[1] & 0x80 != 0 {
            frames.fetch_add(1, Relaxed);
        }
    }
}

/// The same session through retina (describe, setup TCP, play, demux), as ingest will run it.
async fn retina_session(addr: SocketAddr, camera: usize, frames: Arc<AtomicU64>) {
    use futures::StreamExt as _;
    use retina::client::{PlayOptions, Session, SessionOptions, SetupOptions, Transport};
    let url = url::Url::parse(&format!("rtsp://{addr}/cam/{camera}")).unwrap();
    let mut s = Session::describe(url, SessionOptions::default())
        .await
        .unwrap();
    s.setup(
        0,
        SetupOptions::default()
            .transport(Transport::Tcp(Default::default()))
            .frame_format(retina::codec::FrameFormat::SIMPLE),
    )
    .await
    .unwrap();
    let mut d = s
        .play(PlayOptions::default())
        .await
        .unwrap()
        .demuxed()
        .unwrap();
    while let Some(item) = d.next().await {
        match item {
            Ok(retina::codec::CodecItem::VideoFrame(_)) => {
                frames.fetch_add(1, Relaxed);
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

#[test]
#[ignore = "load measurement; run in release with --ignored --nocapture"]
fn sessions_per_server_core() {
    let sessions: Vec<usize> = env_or("CAMSIM_LOAD_SESSIONS", "500,1000,2000")
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let secs: u64 = env_or("CAMSIM_LOAD_SECS", "10").parse().unwrap();
    let preset: ClipPreset = env_or("CAMSIM_LOAD_CLIP", "360p").parse().unwrap();
    let use_retina = env_or("CAMSIM_LOAD_CLIENT", "raw") == "retina";
    let clip = camsim::ensure_clip(preset, &camsim::default_cache_dir()).unwrap();
    let max = *sessions.iter().max().unwrap();

    // Server thread: one current-thread runtime = at most one core.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let stats = Arc::new(Mutex::new((CamsimStats::default(), None::<ThreadTask>)));
    let stop = Arc::new(tokio::sync::Notify::new());
    let server = {
        let (stats, stop) = (stats.clone(), stop.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let h = camsim::start(CamsimOptions::new(max, clip)).await.unwrap();
                addr_tx
                    .send((h.local_addr(), h.clip_info().clone()))
                    .unwrap();
                let task = ThreadTask::current();
                loop {
                    *stats.lock().unwrap() = (h.stats(), Some(task.clone()));
                    tokio::select! {
                        _ = stop.notified() => break,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
                h.stop().await;
            });
        })
    };
    let (addr, info) = addr_rx.recv().unwrap();
    eprintln!(
        "clip {} {}x{}, {} frames, {:.0} kbit/s",
        info.path.display(),
        info.width,
        info.height,
        info.frames,
        info.payload_bytes as f64 * 8.0 / (info.frames as f64 / 25.0) / 1000.0
    );

    // Client thread: its own current-thread runtime, ramping up session counts.
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let frames = Arc::new(AtomicU64::new(0));
    let mut started = 0;
    eprintln!("client: {}", if use_retina { "retina" } else { "raw TCP" });
    eprintln!(
        "sessions | client fps/session | server CPU % of a core | server µs/frame | client CPU % | dropped (slow client)"
    );
    let client_task = ThreadTask::current();
    client_rt.block_on(async {
        for &n in &sessions {
            while started < n {
                if use_retina {
                    tokio::spawn(retina_session(addr, started, frames.clone()));
                } else {
                    tokio::spawn(session(addr, started, frames.clone()));
                }
                started += 1;
                if started % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            tokio::time::sleep(Duration::from_secs(3)).await; // settle
            let snap = || stats.lock().unwrap().clone();
            let (s0, server_task) = snap();
            let server_task =
                server_task.expect("the server thread reports itself before the settle ends");
            let (cpu0, f0, t0) = (cpu_secs(&server_task), frames.load(Relaxed), Instant::now());
            let client0 = cpu_secs(&client_task);
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let (s1, _) = snap();
            let (cpu1, f1, dt) = (
                cpu_secs(&server_task),
                frames.load(Relaxed),
                t0.elapsed().as_secs_f64(),
            );
            let client1 = cpu_secs(&client_task);
            let got = (f1 - f0) as f64;
            let sent = (s1.frames_sent - s0.frames_sent).max(1) as f64;
            eprintln!(
                "{n:8} | {:17.2} | {:22.1} | {:14.1} | {:12.1} | {}",
                got / dt / n as f64,
                (cpu1 - cpu0) / dt * 100.0,
                (cpu1 - cpu0) * 1e6 / sent,
                (client1 - client0) / dt * 100.0,
                s1.frames_dropped_slow_client - s0.frames_dropped_slow_client,
            );
        }
    });
    stop.notify_one();
    server.join().unwrap();
}
