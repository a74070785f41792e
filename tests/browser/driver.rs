//! Finding Chromium and chromedriver, deciding whether the browser tests run, and one
//! chromedriver process per test on a free port of 127.0.0.1.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The programs the browser tests drive.
pub struct Programs {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
}

/// Where a program is: the variable's path when it is set, else the first of `names` on the
/// PATH or in /usr/bin.
fn locate(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/bin"));
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The programs, or `None` after a loud notice when they are missing and not required.
/// With `BIOTZ_BROWSER_TESTS=required` a missing program fails the test.
pub fn programs() -> Option<Programs> {
    let chromedriver = locate("BIOTZ_CHROMEDRIVER", &["chromedriver"]);
    let chromium = locate(
        "BIOTZ_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    if let (Some(chromedriver), Some(chromium)) = (&chromedriver, &chromium) {
        return Some(Programs {
            chromedriver: chromedriver.clone(),
            chromium: chromium.clone(),
        });
    }
    let missing = match (chromedriver, chromium) {
        (None, None) => "chromedriver and chromium",
        (None, _) => "chromedriver",
        _ => "chromium",
    };
    if std::env::var("BIOTZ_BROWSER_TESTS").as_deref() == Ok("required") {
        panic!(
            "BIOTZ_BROWSER_TESTS=required but {missing} is not installed: \
             apt-get install -y chromium chromium-driver"
        );
    }
    // Straight to the process's stderr: the test harness hides what passing tests print.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!! browser tests skipped: install chromium chromium-driver ({missing} not found) !!!!!\n"
    );
    None
}

/// A chromedriver process; killed when dropped.
pub struct ChromeDriver {
    pub url: String,
    child: Child,
}

impl ChromeDriver {
    /// Starts chromedriver on a free port and waits until it accepts connections.
    pub async fn start(program: &PathBuf) -> Self {
        let mut last_error = String::new();
        // A port found free can be taken before chromedriver binds it; then try another.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let mut child = Command::new(program)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
            match wait_until_listening(&mut child, port).await {
                Ok(()) => {
                    return Self {
                        url: format!("http://127.0.0.1:{port}"),
                        child,
                    };
                }
                Err(error) => {
                    last_error = error;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("chromedriver did not start: {last_error}");
    }
}

async fn wait_until_listening(child: &mut Child, port: u16) -> Result<(), String> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("it exited with {status}"));
        }
        if tokio::net::TcpStream::connect(address).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listened on port {port} within 20 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
