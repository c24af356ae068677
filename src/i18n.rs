//! The language of what people read (SPEC.md 6, `--lang de|en`): table headers, statuses and
//! dates in tables and the HTML report, summaries and hints on stderr, `explain`. Messages are
//! Fluent (`locales/<lang>.ftl`, compiled into the binary). JSON, JSON Lines and CSV field names
//! and values are a stable machine interface, always English: keys and statuses are written as
//! they are (`report::Cell::Word`, `Cell::Status`), never through here; only sentences meant to
//! be read (`Cell::Phrase`, such as `check`'s reason) take their English text from `en.ftl`.
//!
//! A leaf: it knows message ids and dates, nothing of the files or the register.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

use crate::model::Date;

/// A language of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// German (Deutsch).
    De,
}

const EN: &str = include_str!("../locales/en.ftl");
const DE: &str = include_str!("../locales/de.ftl");

type Bundle = FluentBundle<FluentResource>;

fn bundle(lang: Lang) -> &'static Bundle {
    static BUNDLES: [OnceLock<Bundle>; 2] = [OnceLock::new(), OnceLock::new()];
    BUNDLES[lang as usize].get_or_init(|| {
        let (id, source) = match lang {
            Lang::En => ("en", EN),
            Lang::De => ("de", DE),
        };
        // The files are compiled in and checked by the tests below: an error here is a bug.
        let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(r, _)| r);
        let mut bundle = Bundle::new_concurrent(vec![id.parse().unwrap_or_default()]);
        // No Unicode isolation marks around arguments: the text goes to terminals and files.
        bundle.set_use_isolating(false);
        let _ = bundle.add_resource(resource);
        bundle
    })
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The language named by the environment: `LC_ALL`, else `LC_MESSAGES`, else `LANG` (the
    /// first that is set and not empty, as POSIX orders them); German for `de` and `de_*`,
    /// English for anything else (`C`, `POSIX`, other languages).
    pub fn from_env() -> Lang {
        Lang::from_locale(
            ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .filter_map(std::env::var_os)
                .find(|v| !v.is_empty())
                .as_deref()
                .and_then(|v| v.to_str()),
        )
    }

    /// The language of a POSIX locale name such as `de_DE.UTF-8`.
    pub fn from_locale(locale: Option<&str>) -> Lang {
        let Some(locale) = locale else { return Lang::En };
        let language = locale.split(['_', '.', '@', '-']).next().unwrap_or_default();
        if language.eq_ignore_ascii_case("de") {
            Lang::De
        } else {
            Lang::En
        }
    }

    /// The BCP 47 tag (`lang` attribute of the HTML report).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The message `id` with its arguments. A message missing in this language falls back to
    /// English, and one missing in English too is shown as its id (the tests keep both files
    /// complete, so neither happens).
    pub fn tr(self, id: &str, args: &[(&str, Arg)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            let value = match value {
                Arg::Str(s) => FluentValue::from(s.clone()),
                Arg::Num(n) => FluentValue::from(*n),
            };
            fluent_args.set(*name, value);
        }
        for lang in [self, Lang::En] {
            let bundle = bundle(lang);
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                return bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned();
            }
        }
        id.to_string()
    }

    /// A message without arguments.
    pub fn text(self, id: &str) -> String {
        self.tr(id, &[])
    }

    /// Whether the message exists (in this language or in English).
    pub fn has(self, id: &str) -> bool {
        bundle(self).has_message(id) || bundle(Lang::En).has_message(id)
    }

    /// A day as people of this language write it: `2026-03-01` in English (ISO, as the
    /// register), `01.03.2026` in German.
    pub fn date(self, d: Date) -> String {
        match self {
            Lang::En => d.to_string(),
            Lang::De => d.format("%d.%m.%Y").to_string(),
        }
    }

    /// A status (`red`, `green`, ...) as shown to people: `rot`, `grün` in German.
    pub fn status(self, status: &str) -> String {
        let id = format!("status-{status}");
        if self.has(&id) {
            self.text(&id)
        } else {
            status.to_string()
        }
    }

    /// A missing person's reason (`expired`, `unknown`, ...) as shown to people.
    pub fn reason(self, reason: &str) -> String {
        let id = format!("reason-{reason}");
        if self.has(&id) {
            self.text(&id)
        } else {
            reason.to_string()
        }
    }

    /// A report column's header in tables, spreadsheets and the HTML report: the message
    /// `col-<name>` (`valid_until` -> `col-valid_until`), else the name upper-cased with spaces.
    pub fn column(self, name: &str) -> String {
        let id = format!("col-{name}");
        if self.has(&id) {
            self.text(&id)
        } else {
            name.to_uppercase().replace('_', " ")
        }
    }
}

/// An argument of a message.
#[derive(Debug, Clone)]
pub enum Arg {
    Str(String),
    Num(f64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Str(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Str(s)
    }
}

macro_rules! num_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Arg {
                Arg::Num(n as f64)
            }
        }
    )*};
}
num_arg!(u32, u64, usize, i32, i64, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_bundle::FluentResource;
    use fluent_syntax::ast::Entry;

    fn ids(source: &str) -> Vec<String> {
        let resource = match FluentResource::try_new(source.to_string()) {
            Ok(r) => r,
            Err((_, errors)) => panic!("the .ftl file does not parse: {errors:?}"),
        };
        let mut ids: Vec<String> = resource
            .entries()
            .filter_map(|e| match e {
                Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect();
        ids.sort();
        let mut repeated = ids.clone();
        repeated.dedup();
        assert_eq!(repeated.len(), ids.len(), "a message id is defined twice (the second one is ignored)");
        ids
    }

    #[test]
    fn both_languages_parse_and_have_the_same_messages() {
        let (en, de) = (ids(EN), ids(DE));
        let only_en: Vec<_> = en.iter().filter(|id| !de.contains(id)).collect();
        let only_de: Vec<_> = de.iter().filter(|id| !en.contains(id)).collect();
        assert!(only_en.is_empty() && only_de.is_empty(), "untranslated: {only_en:?}; only German: {only_de:?}");
        assert!(!en.is_empty());
    }

    #[test]
    fn the_language_comes_from_the_locale() {
        assert_eq!(Lang::from_locale(Some("de_DE.UTF-8")), Lang::De);
        assert_eq!(Lang::from_locale(Some("de_AT")), Lang::De);
        assert_eq!(Lang::from_locale(Some("de")), Lang::De);
        assert_eq!(Lang::from_locale(Some("C.UTF-8")), Lang::En);
        assert_eq!(Lang::from_locale(Some("POSIX")), Lang::En);
        assert_eq!(Lang::from_locale(Some("fr_FR.UTF-8")), Lang::En);
        assert_eq!(Lang::from_locale(Some("dede")), Lang::En);
        assert_eq!(Lang::from_locale(None), Lang::En);
    }

    #[test]
    fn statuses_dates_and_columns_read_in_each_language() {
        let day = Date::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(Lang::En.date(day), "2026-03-01");
        assert_eq!(Lang::De.date(day), "01.03.2026");
        assert_eq!(Lang::De.status("red"), "rot");
        assert_eq!(Lang::De.status("green"), "grün");
        assert_eq!(Lang::En.status("green"), "green");
        assert_eq!(Lang::En.column("valid_until"), "VALID UNTIL");
        assert_eq!(Lang::De.column("valid_until"), "GÜLTIG BIS");
        assert_eq!(Lang::En.column("no_such_column"), "NO SUCH COLUMN");
        // Arguments are set without isolation marks.
        assert_eq!(Lang::En.tr("test-plural", &[("count", 1u64.into())]), "1 file");
        assert_eq!(Lang::De.tr("test-plural", &[("count", 2u64.into())]), "2 Dateien");
    }
}
