//! What is checked on every page: the things a person notices only when they go wrong.
//! Each returns what it found wrong (an empty list when all is well).

use serde_json::Value;

use crate::browser::Browser;

/// Elements wider than the window (a wide <pre> scrolls inside itself and is fine).
pub async fn too_wide(browser: &Browser) -> Value {
    browser
        .script(
            "return [...document.querySelectorAll('body *')]
                   .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                             && !e.closest('pre, .skip, .visually-hidden, .default-submit'))
                   .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))
                   .slice(0, 5);",
        )
        .await
}

/// Whether the page scrolls sideways.
pub async fn scrolls_sideways(browser: &Browser) -> bool {
    browser
        .script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
        )
        .await
        == Value::Bool(true)
}

/// Table cells, after each row's first, that do not name their column for the stacked layout.
pub async fn unlabelled_cells(browser: &Browser) -> Value {
    browser
        .script(
            "return [...document.querySelectorAll('tbody td:not(:first-child)')]
                   .filter(td => !td.dataset.label && !td.querySelector('form'))
                   .map(td => td.textContent.trim());",
        )
        .await
}

/// Fields, buttons, links and images with no name for a screen reader to say.
pub async fn unnamed(browser: &Browser) -> Value {
    browser
        .script(
            "const shown = e => !e.closest('[aria-hidden=true], [hidden]');
                 const fields = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                   .filter(shown)
                   .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                   .map(e => 'field ' + (e.id || e.name));
                 const controls = [...document.querySelectorAll('a[href], button')]
                   .filter(shown)
                   .filter(e => !e.textContent.trim() && !e.getAttribute('aria-label'))
                   .map(e => e.tagName.toLowerCase() + ' ' + (e.getAttribute('href') || e.name));
                 const images = [...document.querySelectorAll('img:not([alt]), svg:not([aria-label]):not([aria-hidden=true])')]
                   .map(e => e.tagName.toLowerCase() + ' ' + (e.getAttribute('src') || e.className.baseVal || ''));
                 return fields.concat(controls, images);",
        )
        .await
}

/// Text under WCAG 2 AA contrast against its background: 4.5:1, or 3:1 for large text
/// (24 px, or 18.66 px bold).
pub async fn faint_text(browser: &Browser) -> Value {
    browser
        .script(
            "const channels = c => c.match(/[\\d.]+/g).map(Number);
                 const luminance = c => {
                   const [r, g, b] = channels(c).slice(0, 3).map(v => {
                     v /= 255;
                     return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                   });
                   return 0.2126 * r + 0.7152 * g + 0.0722 * b;
                 };
                 const opaque = c => { const v = channels(c); return v.length < 4 || v[3] > 0; };
                 const background = e => {
                   for (; e; e = e.parentElement) {
                     const c = getComputedStyle(e).backgroundColor;
                     if (opaque(c)) return c;
                   }
                   return 'rgb(255, 255, 255)';
                 };
                 const faint = [];
                 for (const e of document.querySelectorAll('body *')) {
                   if (!e.getClientRects().length || e.closest('.skip, .visually-hidden, [hidden], svg')) continue;
                   if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
                   const style = getComputedStyle(e);
                   const [a, b] = [luminance(style.color), luminance(background(e))];
                   const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
                   const size = parseFloat(style.fontSize);
                   const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
                   if (ratio < (large ? 3 : 4.5)) {
                     faint.push(e.tagName.toLowerCase() + ' “' + e.textContent.trim().slice(0, 30) + '” ' + ratio.toFixed(2));
                   }
                 }
                 return faint;",
        )
        .await
}
