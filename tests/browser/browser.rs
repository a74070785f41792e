//! A headless Chromium session, used as a person uses the UI: follow a link, fill a field, press
//! a button, read what the page says. Every look waits for its condition up to a deadline; a
//! test that panics leaves a screenshot of the page at
//! `target/browser-screenshots/<test>-<step>.png`.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::driver::{self, ChromeDriver};

/// How long any one condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

pub struct Browser {
    client: Client,
    base: String,
    test: &'static str,
    step: Mutex<String>,
    _driver: ChromeDriver,
}

impl Browser {
    /// A fresh browser (its own chromedriver and profile) for the app at `base`, or `None` when
    /// the browser tests are skipped on this machine (see `driver::programs`).
    pub async fn open(test: &'static str, base: &str) -> Option<Self> {
        let programs = driver::programs()?;
        let driver = ChromeDriver::start(&programs.chromedriver).await;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": programs.chromium,
                "args": [
                    "--headless=new",
                    // CI runs as root, where Chromium's sandbox cannot start.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    "--window-size=1280,1000",
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("{test}: no Chromium session from chromedriver: {e}"));
        Some(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            test,
            step: Mutex::new("start".into()),
            _driver: driver,
        })
    }

    /// Names what the test does next: the name of the screenshot if it fails. With
    /// BIOTZ_BROWSER_SCREENSHOTS=all the page each step ended on is saved too, to look at.
    pub async fn step(&self, name: &str) {
        if std::env::var("BIOTZ_BROWSER_SCREENSHOTS").as_deref() == Ok("all")
            && let Ok(png) = self.client.screenshot().await
        {
            let path = self.screenshot_path();
            let _ = std::fs::create_dir_all(path.parent().unwrap());
            let _ = std::fs::write(path, png);
        }
        *self.step.lock().unwrap() = name.to_owned();
    }

    fn fail(&self, what: &str, error: impl std::fmt::Display) -> ! {
        let step = self.step.lock().unwrap().clone();
        panic!("{} / {step}: {what}: {error}", self.test);
    }

    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        if let Err(error) = self.client.goto(&url).await {
            self.fail(&format!("opening {url}"), error);
        }
    }

    /// Makes the window `width` by `height` CSS pixels, as a phone's or a desktop's.
    pub async fn resize(&self, width: u32, height: u32) {
        if let Err(error) = self.client.set_window_size(width, height).await {
            self.fail("resizing the window", error);
        }
    }

    /// Loads the page shown again.
    pub async fn refresh_page(&self) {
        let page = self.page().await;
        if let Err(error) = self.client.refresh().await {
            self.fail("reloading the page", error);
        }
        self.wait_for_next_page(page, "reloading").await;
    }

    /// The path and query of the page shown.
    pub async fn path(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            },
            Err(error) => self.fail("reading the URL", error),
        }
    }

    /// Waits until the page's path starts with `prefix`; returns the whole path.
    pub async fn wait_for_path(&self, prefix: &str) -> String {
        let mut last = String::new();
        self.wait_until(&format!("the page at {prefix}…"), async || {
            last = self.path().await;
            Ok(last.starts_with(prefix))
        })
        .await;
        last
    }

    /// Waits for the element that `css` selects.
    pub async fn find(&self, css: &str) -> Element {
        self.find_by(Locator::Css(css), css).await
    }

    async fn find_by(&self, locator: Locator<'_>, described: &str) -> Element {
        match self.client.wait().at_most(WAIT).for_element(locator).await {
            Ok(element) => element,
            Err(error) => self.fail(&format!("finding {described}"), error),
        }
    }

    /// Every element `css` selects now (none is fine).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        match self.client.find_all(Locator::Css(css)).await {
            Ok(elements) => elements,
            Err(error) => self.fail(&format!("finding {css}"), error),
        }
    }

    /// Clicks what `css` selects, for a control that stays on the page (a Copy button).
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        if let Err(error) = element.click().await {
            self.fail(&format!("clicking {css}"), error);
        }
    }

    /// Types `keys` (text, or a `fantoccini::key::Key` as a string) wherever the focus is.
    pub async fn type_keys(&self, keys: &str) {
        let focused = match self.client.active_element().await {
            Ok(element) => element,
            Err(error) => self.fail("finding the focus", error),
        };
        if let Err(error) = focused.send_keys(keys).await {
            self.fail(&format!("typing {keys:?}"), error);
        }
    }

    /// What has the focus: its id, or else its tag and text, as a person would point at it.
    pub async fn focused(&self) -> String {
        let described = self
            .script(
                "const e = document.activeElement;
                 return e.id ? '#' + e.id : e.tagName.toLowerCase() + ' ' + e.textContent.trim();",
            )
            .await;
        described.as_str().unwrap_or_default().to_owned()
    }

    /// Whether the focused element shows that it has the focus (an outline or a ring).
    pub async fn focus_is_visible(&self) -> bool {
        let shown = self
            .script(
                "const style = getComputedStyle(document.activeElement);
                 return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
                     || style.boxShadow !== 'none';",
            )
            .await;
        shown == serde_json::Value::Bool(true)
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn script(&self, script: &str) -> serde_json::Value {
        match self.client.execute(script, vec![]).await {
            Ok(value) => value,
            Err(error) => self.fail("running a script", error),
        }
    }

    /// Follows the link whose whole text is `text`.
    pub async fn click_link(&self, text: &str) {
        let element = self.find_by(Locator::LinkText(text), text).await;
        let page = self.page().await;
        if let Err(error) = element.click().await {
            self.fail(&format!("clicking the link {text:?}"), error);
        }
        self.wait_for_next_page(page, text).await;
    }

    /// Presses the button whose text is `label`, among those a person can see.
    pub async fn press(&self, label: &str) {
        let xpath = format!(
            "//button[normalize-space(.)={}][not(ancestor-or-self::*[@aria-hidden='true' or @hidden])]",
            xpath_string(label)
        );
        let element = self.find_by(Locator::XPath(&xpath), label).await;
        let page = self.page().await;
        if let Err(error) = element.click().await {
            self.fail(&format!("pressing {label:?}"), error);
        }
        self.wait_for_next_page(page, label).await;
    }

    /// The document shown now, to tell when another one replaced it.
    async fn page(&self) -> Element {
        self.find("html").await
    }

    /// Waits until the link or button that `what` names has brought another page: every link
    /// and button these tests use leads to one (the UI works without script).
    async fn wait_for_next_page(&self, before: Element, what: &str) {
        self.wait_until(&format!("the page after {what:?}"), async || {
            match before.tag_name().await {
                Ok(_) => Ok(false),
                Err(CmdError::Standard(e)) if e.error == ErrorStatus::StaleElementReference => {
                    Ok(true)
                }
                Err(error) => Err(error),
            }
        })
        .await;
    }

    /// Replaces the text of the field `css` with `text`, as typed.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        if let Err(error) = element.clear().await {
            self.fail(&format!("clearing {css}"), error);
        }
        if let Err(error) = element.send_keys(text).await {
            self.fail(&format!("typing into {css}"), error);
        }
    }

    /// Chooses the option labelled `label` in the dropdown `css`.
    pub async fn choose(&self, css: &str, label: &str) {
        let element = self.find(css).await;
        if let Err(error) = element.select_by_label(label).await {
            self.fail(&format!("choosing {label:?} in {css}"), error);
        }
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        match element.text().await {
            Ok(text) => text,
            Err(error) => self.fail(&format!("reading {css}"), error),
        }
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css).await;
        match element.attr(name).await {
            Ok(value) => value,
            Err(error) => self.fail(&format!("reading {name} of {css}"), error),
        }
    }

    /// Waits until the text of `css` contains `needle`; returns the text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let mut last = String::new();
        self.wait_until(&format!("{css} to say {needle:?}"), async || {
            last = self.current_text(css).await?.unwrap_or_default();
            Ok(last.contains(needle))
        })
        .await;
        last
    }

    /// Reloads the page until the text of `css` contains `needle`, as a person waiting for the
    /// dispatcher would; returns the text.
    pub async fn reload_until_text(&self, css: &str, needle: &str) -> String {
        let mut last = String::new();
        self.wait_until(
            &format!("{css} to say {needle:?} after a reload"),
            async || {
                last = self.current_text(css).await?.unwrap_or_default();
                if last.contains(needle) {
                    return Ok(true);
                }
                self.client.refresh().await?;
                Ok(false)
            },
        )
        .await;
        last
    }

    /// The text of `css` if the page has it now.
    async fn current_text(&self, css: &str) -> Result<Option<String>, CmdError> {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => match element.text().await {
                Ok(text) => Ok(Some(text)),
                Err(CmdError::Standard(e)) if e.error == ErrorStatus::StaleElementReference => {
                    Ok(None)
                }
                Err(error) => Err(error),
            },
            Err(CmdError::Standard(e)) if e.error == ErrorStatus::NoSuchElement => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Polls `condition` until it holds, failing the test after `WAIT`.
    pub async fn wait_until(
        &self,
        what: &str,
        mut condition: impl AsyncFnMut() -> Result<bool, CmdError>,
    ) {
        let start = Instant::now();
        loop {
            match condition().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(CmdError::Standard(e)) if is_transient(&e) => {}
                Err(error) => self.fail(&format!("waiting for {what}"), error),
            }
            if start.elapsed() > WAIT {
                self.fail(
                    &format!("waiting for {what}"),
                    format!("not within {WAIT:?}"),
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn screenshot_path(&self) -> PathBuf {
        let step: String = self
            .step
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        target.join("browser-screenshots").join(format!(
            "{}-{}.png",
            self.test,
            step.trim_matches('-')
        ))
    }
}

/// An error that says the page changed while it was read: a script replaced the element, or
/// a navigation replaced the document (Chromium then names a node that "does not belong to the
/// document"). Reading again gives the answer.
fn is_transient(error: &fantoccini::error::WebDriver) -> bool {
    error.error == ErrorStatus::StaleElementReference
        || (error.error == ErrorStatus::UnknownError
            && error.message.contains("does not belong to the document"))
}

/// `text` as an XPath string literal.
fn xpath_string(text: &str) -> String {
    if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('"').map(|p| format!("\"{p}\"")).collect();
        format!("concat({})", parts.join(", '\"', "))
    }
}

impl Drop for Browser {
    /// Saves a screenshot if the test failed (or all are asked for), then ends the Chromium
    /// session. The session's
    /// task runs on the test's multi-threaded runtime, so a thread of our own can wait for it.
    fn drop(&mut self) {
        let client = self.client.clone();
        let all = std::env::var("BIOTZ_BROWSER_SCREENSHOTS").as_deref() == Ok("all");
        let screenshot = (all || std::thread::panicking()).then(|| self.screenshot_path());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let limit = Duration::from_secs(10);
                if let Some(path) = screenshot
                    && let Ok(Ok(png)) = tokio::time::timeout(limit, client.screenshot()).await
                {
                    let _ = std::fs::create_dir_all(path.parent().unwrap());
                    if std::fs::write(&path, png).is_ok() && !all {
                        eprintln!("screenshot of the failed step: {}", path.display());
                    }
                }
                let _ = tokio::time::timeout(limit, client.close()).await;
            });
        })
        .join();
    }
}
