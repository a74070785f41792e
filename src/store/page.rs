//! Cursor pagination: lists are newest first by id (ids sort by creation time), and the cursor
//! is the last id of the previous page. Clients treat it as opaque; the server takes any string
//! of id characters as a position in that order, so no cursor of the documented shape is refused.

use serde::Serialize;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Default)]
pub struct Page {
    limit: i64,
    /// Only ids strictly before this one (they are older).
    before: Option<String>,
}

impl Page {
    /// From the `limit` and `cursor` query parameters.
    pub fn parse(
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, (&'static str, String)> {
        let limit = match limit.map(str::trim).filter(|l| !l.is_empty()) {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err((
                        "limit",
                        format!("Use a whole number from 1 to {MAX_LIMIT}."),
                    ));
                }
            },
        };
        let before = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(text) if is_cursor(text) => Some(text.to_owned()),
            Some(_) => {
                return Err((
                    "cursor",
                    format!(
                        "Use the next_cursor of the previous page (up to {MAX_CURSOR} letters, \
                         digits and underscores), or start again without it."
                    ),
                ));
            }
        };
        Ok(Self { limit, before })
    }

    pub fn first(limit: i64) -> Self {
        Self {
            limit: limit.clamp(1, MAX_LIMIT),
            before: None,
        }
    }

    /// The id bound for `id < $n`; the highest possible id when starting from the newest.
    pub fn before(&self) -> &str {
        self.before.as_deref().unwrap_or("~")
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the fetched rows to the page and makes the next cursor from the last one.
    pub fn finish<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> &str) -> Paged<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| id(row).to_owned())
        } else {
            None
        };
        Paged {
            data: rows,
            next_cursor,
        }
    }
}

/// The longest cursor accepted (ids are far shorter).
const MAX_CURSOR: usize = 64;

/// The documented shape of a cursor: `^[A-Za-z0-9_]{1,64}$`.
fn is_cursor(text: &str) -> bool {
    text.len() <= MAX_CURSOR && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One page of a list, as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Paged<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_a_cursor_only_when_more_follow() {
        let page = Page::parse(Some("2"), None).unwrap();
        assert_eq!(page.fetch_limit(), 3);
        let paged = page.finish(vec!["c", "b", "a"], |s| s);
        assert_eq!(paged.data, vec!["c", "b"]);
        let cursor = paged.next_cursor.unwrap();
        let next = Page::parse(Some("2"), Some(&cursor)).unwrap();
        assert_eq!(next.before(), "b");
        assert!(next.finish(vec!["a"], |s| s).next_cursor.is_none());
    }

    #[test]
    fn bad_limits_and_cursors_name_the_parameter() {
        assert_eq!(Page::parse(Some("0"), None).unwrap_err().0, "limit");
        assert_eq!(Page::parse(Some("201"), None).unwrap_err().0, "limit");
        assert_eq!(Page::parse(Some("ten"), None).unwrap_err().0, "limit");
        assert_eq!(Page::parse(None, Some("!!")).unwrap_err().0, "cursor");
        assert_eq!(
            Page::parse(None, Some(&"a".repeat(65))).unwrap_err().0,
            "cursor"
        );
        let random = Page::parse(None, Some("Zz_09")).unwrap();
        assert_eq!(
            random.before(),
            "Zz_09",
            "any cursor of the documented shape is a position"
        );
        assert_eq!(
            Page::parse(None, None).unwrap().fetch_limit(),
            DEFAULT_LIMIT + 1
        );
    }
}
