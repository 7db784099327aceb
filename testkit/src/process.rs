//! A child process that is stopped with SIGTERM (then SIGKILL after 15 s) when dropped, so a
//! failing test never leaves a pipeline running.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Killed(pub Child);

/// Starts a camera simulator (`cmd` is `xueliang camsim …` or `xueliang-camsim …` with
/// `--port 0`) and reads the `host:port` it bound from its first line of output.
pub fn camsim(mut cmd: Command) -> (Killed, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting camsim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("camsim's stdout"))
        .read_line(&mut line)
        .expect("reading camsim's first line");
    let child = Killed(child);
    let addr = line
        .split("rtsp://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in camsim's first line: {line:?}"))
        .to_string();
    (child, addr)
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
    }
}
