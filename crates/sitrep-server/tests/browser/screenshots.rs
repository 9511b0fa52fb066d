//! Full-page screenshots of every page at desktop and phone widths, under
//! `target/screenshots/`, and no sideways scrolling on a 390 px phone.

use crate::harness::{AUDITOR, Browser, DEMO_INCIDENT, Driver, Server, target_dir, tools};

/// Every page, by the file name its screenshots get, and who looks at it (`None`: signed out).
pub(crate) fn pages() -> Vec<(&'static str, String, Option<&'static str>)> {
    vec![
        ("login", "/login".into(), None),
        ("incidents", "/incidents".into(), Some("maria")),
        ("declare", "/incidents/new".into(), Some("maria")),
        ("command-view", format!("/incidents/{DEMO_INCIDENT}"), Some("maria")),
        ("sitrep", format!("/incidents/{DEMO_INCIDENT}/sitrep"), Some("maria")),
        ("report", format!("/incidents/{DEMO_INCIDENT}/report"), Some("maria")),
        ("review-sheet", format!("/incidents/{DEMO_INCIDENT}/decisions/D-1"), Some("maria")),
        ("parties", "/parties".into(), Some("maria")),
        ("control-changes", "/control-changes".into(), Some("maria")),
        ("policy", "/policy".into(), Some("maria")),
        ("api-tokens", "/account/tokens".into(), Some("maria")),
        ("contact", "/account/contact".into(), Some("maria")),
        ("org-record", "/org/record".into(), Some(AUDITOR)),
    ]
}

/// Makes `browser` signed in as `who` (or signed out), whoever it was before.
pub(crate) async fn become_(browser: &Browser, server: &Server, who: Option<&str>, current: &mut Option<String>) {
    if current.as_deref() == who {
        return;
    }
    if current.is_some() {
        browser.sign_out().await;
    }
    if let Some(name) = who {
        browser.sign_in(server, name).await;
    }
    *current = who.map(str::to_owned);
}

const WIDTHS: [(&str, u32); 2] = [("desktop", 1280), ("phone", 390)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_captured_at_desktop_and_phone_width_and_fits_a_phone() {
    let Some(tools) = tools() else { return };
    let server = Server::start_with_auditor().await;
    let driver = Driver::start(&tools).await;
    let browser = driver.browser(&server).await;
    let dir = target_dir().join("screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshots directory");

    let mut signed_in = None;
    let mut too_wide = Vec::new();
    for (name, path, who) in pages() {
        become_(&browser, &server, who, &mut signed_in).await;
        for (device, width) in WIDTHS {
            browser.set_viewport(width, 800).await;
            browser.open(&path).await;
            assert_eq!(browser.path().await, path, "{name} opens as {who:?}");
            // A phone's layout viewport is the emulated screen; a desktop's is the window.
            let measure = if device == "phone" { "return screen.width;" } else { "return window.innerWidth;" };
            let viewport = browser.js(measure, vec![]).await;
            assert_eq!(viewport.as_u64(), Some(u64::from(width)), "the {device} viewport is {width} px wide");
            // The content's own height (scrollHeight is never less than the window's).
            let height =
                browser.js("return Math.ceil(document.documentElement.getBoundingClientRect().height);", vec![]).await;
            let height = height.as_u64().and_then(|h| u32::try_from(h).ok()).expect("the document's height");
            browser.set_viewport(width, height.max(200)).await;
            let png = browser.client.screenshot().await.expect("a screenshot");
            let file = dir.join(format!("{name}-{device}.png"));
            std::fs::write(&file, png).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
            if device == "phone" {
                let scroll = browser.js("return document.documentElement.scrollWidth;", vec![]).await;
                if scroll.as_u64().is_none_or(|w| w > u64::from(width) + 1) {
                    too_wide.push(format!("{name} is {scroll} px wide"));
                }
            }
        }
    }
    assert!(too_wide.is_empty(), "pages scroll sideways on a {} px phone: {too_wide:?}", WIDTHS[1].1);
    browser.close().await;
}
