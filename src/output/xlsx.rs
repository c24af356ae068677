//! The spreadsheet printer (`--format xlsx -o FILE`): one worksheet with typed cells for people
//! of the run's language, written whole into the writer when finished.

use std::io::{self, Write};

use chrono::Datelike;
use rust_xlsxwriter::{ColNum, ExcelDateTime, Format, RowNum, Workbook, Worksheet, XlsxError};

use super::Sink;
use crate::i18n::Lang;
use crate::model::Date;
use crate::report::Cell;

/// The most characters Excel keeps in a cell.
const MAX_CELL_CHARS: usize = 32_767;
/// Columns are made as wide as their content, up to this many characters.
const MAX_COLUMN_CHARS: usize = 60;
/// The room the autofilter's button takes in a header cell, in characters.
const FILTER_BUTTON_CHARS: usize = 3;

/// Prints rows into one worksheet: a bold header row of the columns' names in the language
/// (frozen, with an autofilter over the used range), columns as wide as their widest cell (up
/// to [`MAX_COLUMN_CHARS`]), numbers as numbers, days as real Excel
/// dates (shown `dd.mm.yyyy` in German, `yyyy-mm-dd` in English), statuses and reasons in the
/// language, lists joined with `, `. Every text is written as a string, never as a formula
/// (`=1+1` stays text). The workbook is held until [`finish`](Sink::finish), which writes it
/// into the writer whole: `-o` renames the file into place only then.
pub struct XlsxPrinter<W: Write> {
    out: W,
    lang: Lang,
    sheet: Worksheet,
    /// The widest cell of each column so far, in characters (the header with its button).
    widths: Vec<usize>,
    /// The next row to write (0 is the header).
    row: RowNum,
    date: Format,
    /// Cells cut to what a cell holds ([`fit`]): said on stderr when the sheet is written.
    cut: usize,
}

impl<W: Write> XlsxPrinter<W> {
    pub fn new(columns: &[&str], lang: Lang, out: W) -> io::Result<Self> {
        let mut sheet = Worksheet::new();
        sheet.set_name("consentry").map_err(xlsx_error)?;
        let bold = Format::new().set_bold();
        for (i, c) in columns.iter().enumerate() {
            sheet.write_string_with_format(0, i as ColNum, lang.column(c), &bold).map_err(xlsx_error)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        let date = Format::new().set_num_format(match lang {
            Lang::En => "yyyy-mm-dd",
            Lang::De => "dd.mm.yyyy",
        });
        let widths = columns.iter().map(|c| lang.column(c).chars().count() + FILTER_BUTTON_CHARS).collect();
        Ok(XlsxPrinter { out, lang, sheet, widths, row: 1, date, cut: 0 })
    }

    fn cell(&mut self, col: ColNum, cell: &Cell) -> Result<(), XlsxError> {
        let (sheet, row) = (&mut self.sheet, self.row);
        let width = match cell {
            Cell::Null => 0,
            Cell::Int(n) => {
                sheet.write_number(row, col, *n as f64)?;
                n.to_string().len()
            }
            Cell::Date(d) => match excel_date(*d) {
                Some(d) => {
                    sheet.write_date_with_format(row, col, &d, &self.date)?;
                    "yyyy-mm-dd".len()
                }
                // Outside the days Excel counts (before 1900): shown as text, never lost.
                None => {
                    let text = self.lang.date(*d);
                    sheet.write_string(row, col, &text)?;
                    text.chars().count()
                }
            },
            other => {
                let text = fit(other.display(", ", self.lang));
                self.cut += usize::from(text.ends_with('…') && text.chars().count() == MAX_CELL_CHARS);
                let width = text.chars().count();
                if width > 0 {
                    sheet.write_string(row, col, text)?;
                }
                width
            }
        };
        if let Some(w) = self.widths.get_mut(usize::from(col)) {
            *w = (*w).max(width);
        }
        Ok(())
    }
}

impl<W: Write> Sink<W> for XlsxPrinter<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        for (i, cell) in cells.iter().enumerate() {
            self.cell(i as ColNum, cell).map_err(xlsx_error)?;
        }
        self.row += 1;
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<W> {
        let XlsxPrinter { mut out, mut sheet, widths, row, cut, .. } = *self;
        if cut > 0 {
            // Never a silently shorter answer: the cut cells end in `…`, and this says so.
            super::eprint_escaped(&format!(
                "consentry: {cut} cell(s) longer than a spreadsheet cell holds ({MAX_CELL_CHARS} characters) were cut, \
                 marked with …; --format csv or json keeps them whole"
            ));
        }
        if !widths.is_empty() {
            sheet.autofilter(0, 0, row - 1, (widths.len() - 1) as ColNum).map_err(xlsx_error)?;
        }
        for (i, w) in widths.iter().enumerate() {
            sheet.set_column_width(i as ColNum, (*w).min(MAX_COLUMN_CHARS) as f64 + 1.0).map_err(xlsx_error)?;
        }
        let mut workbook = Workbook::new();
        workbook.push_worksheet(sheet);
        out.write_all(&workbook.save_to_buffer().map_err(xlsx_error)?)?;
        Ok(out)
    }
}

/// A day as an Excel date, for the days Excel counts (1900 to 9999).
fn excel_date(d: Date) -> Option<ExcelDateTime> {
    let year = u16::try_from(d.year()).ok()?;
    ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8).ok()
}

/// Text cut to what a cell holds, marked where it was cut.
fn fit(text: String) -> String {
    if text.chars().count() <= MAX_CELL_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CELL_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn xlsx_error(e: XlsxError) -> io::Error {
    match e {
        XlsxError::IoError(e) => e,
        XlsxError::RowColumnLimitError => io::Error::other("more rows than a spreadsheet holds (1,048,576)"),
        e => io::Error::other(format!("spreadsheet: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::Status;
    use crate::output::{OutputFormat, Printer};
    use calamine::{Data, DataType, Reader, Xlsx};

    /// A spreadsheet of two rows read back: its cells, and its styles.
    fn sheet(lang: Lang) -> (calamine::Range<Data>, calamine::StyleRange, Vec<(String, String)>) {
        let d = Date::from_ymd_opt(2026, 3, 1).unwrap();
        let mut p = Printer::new(
            OutputFormat::Xlsx,
            lang,
            &["path", "files", "valid_until", "status", "missing", "usage"],
            Vec::new(),
        )
        .unwrap();
        p.row(&[
            "=1+1".into(),
            Cell::Int(3),
            Cell::Date(d),
            Cell::Status(Status::Red),
            Cell::Missing(vec![("Anna".into(), "expired"), ("Ben".into(), "unknown")]),
            Cell::list(["print", "web"]),
        ])
        .unwrap();
        p.row(&[
            "@SUM(A1)".into(),
            Cell::Int(-2),
            Cell::Null,
            Cell::Status(Status::Green),
            Cell::Missing(Vec::new()),
            Cell::List(Vec::new()),
        ])
        .unwrap();
        let bytes = p.finish().unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let names = book.defined_names().to_vec();
        (book.worksheet_range("consentry").unwrap(), book.worksheet_style("consentry").unwrap(), names)
    }

    #[test]
    fn cells_are_typed_and_text_is_never_a_formula() {
        let (range, styles, names) = sheet(Lang::En);
        assert_eq!(range.get_size(), (3, 6));
        let header: Vec<String> = range.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(header, ["PATH", "FILES", "VALID UNTIL", "STATUS", "MISSING", "USAGE"]);
        assert!((0..6).all(|c| styles.get((0, c)).and_then(|s| s.font.as_ref()).is_some_and(|f| f.is_bold())));
        assert_eq!(range.get((1, 0)), Some(&Data::String("=1+1".into())));
        assert_eq!(range.get((2, 0)), Some(&Data::String("@SUM(A1)".into())));
        assert_eq!(range.get((1, 1)), Some(&Data::Float(3.0)));
        assert_eq!(range.get((2, 1)), Some(&Data::Float(-2.0)));
        let day = range.get((1, 2)).unwrap();
        assert!(matches!(day, Data::DateTime(_)), "{day:?}");
        assert_eq!(day.as_date(), Date::from_ymd_opt(2026, 3, 1));
        let format = styles.get((1, 2)).and_then(|s| s.number_format.as_ref()).map(|f| f.format_code.clone());
        assert_eq!(format.as_deref(), Some("yyyy-mm-dd"));
        assert_eq!(range.get((2, 2)), Some(&Data::Empty));
        assert_eq!(range.get((1, 3)), Some(&Data::String("red".into())));
        assert_eq!(range.get((1, 4)), Some(&Data::String("Anna (expired), Ben (unknown)".into())));
        assert_eq!(range.get((1, 5)), Some(&Data::String("print, web".into())));
        // The autofilter over the used range, header included.
        assert!(names.iter().any(|(n, r)| n == "_xlnm._FilterDatabase" && r.ends_with("$A$1:$F$3")), "{names:?}");
    }

    #[test]
    fn german_sheets_show_german_headers_statuses_reasons_and_dates() {
        let (range, styles, _) = sheet(Lang::De);
        let header: Vec<String> = range.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(header, ["PFAD", "DATEIEN", "GÜLTIG BIS", "STATUS", "FEHLENDE EINWILLIGUNG", "EINSATZGEBIETE"]);
        assert_eq!(range.get((1, 3)), Some(&Data::String("rot".into())));
        assert_eq!(range.get((2, 3)), Some(&Data::String("grün".into())));
        assert_eq!(range.get((1, 4)), Some(&Data::String("Anna (abgelaufen), Ben (unbekannt)".into())));
        assert_eq!(range.get((1, 2)).unwrap().as_date(), Date::from_ymd_opt(2026, 3, 1));
        let format = styles.get((1, 2)).and_then(|s| s.number_format.as_ref()).map(|f| f.format_code.clone());
        assert_eq!(format.as_deref(), Some("dd.mm.yyyy"));
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_with_room_for_the_filter_button() {
        let mut p = Printer::new(OutputFormat::Xlsx, Lang::En, &["path", "files", "note"], Vec::new()).unwrap();
        p.row(&["a/b/c.jpg".into(), Cell::Int(12345678), "x".repeat(200).into()]).unwrap();
        let bytes = p.finish().unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
        // PATH: the 9 characters of the path; FILES: the header and its button; NOTE: cut to 60.
        for (col, width) in [(1, 10), (2, 9), (3, 61)] {
            let want = format!(r#"<col min="{col}" max="{col}" width="{width}"#);
            assert!(xml.contains(&want), "{want}: {xml}");
        }
        assert!(xml.contains(r#"state="frozen""#) && xml.contains(r#"<autoFilter ref="A1:C2"/>"#), "{xml}");
    }

    #[test]
    fn long_text_is_cut_to_what_a_cell_holds() {
        assert_eq!(fit("Anna".into()), "Anna");
        let long = "x".repeat(MAX_CELL_CHARS + 5);
        let cut = fit(long);
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn days_excel_cannot_count_are_none() {
        assert!(excel_date(Date::from_ymd_opt(2026, 3, 1).unwrap()).is_some());
        assert!(excel_date(Date::from_ymd_opt(1850, 3, 1).unwrap()).is_none());
    }
}
