//! Reading a run's or a sweep's CSV tables back for reports: only the columns a plot
//! needs, numbers as `f64`, repeated text (shard ids, consumer names) interned.
//!
//! A table that is absent, empty or lacks a column is not an error: the plot that
//! needed it is skipped and the report says why. A table that cannot be parsed (ragged
//! rows, a word where a number belongs) is an error naming the file and the line.

use crate::atomic::io_error;
use crate::ReportError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A table ready to use, or the reason it is not.
pub enum Input<T> {
    Ready(T),
    Skip(String),
}

impl<T> Input<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Input::Ready(value) => Some(value),
            Input::Skip(_) => None,
        }
    }
}

/// A text column: the distinct values in order of first appearance and, per row, the
/// index of the row's value.
#[derive(Debug, Default)]
pub struct TextColumn {
    pub values: Vec<String>,
    pub index: Vec<u32>,
}

impl TextColumn {
    pub fn get(&self, row: usize) -> &str {
        &self.values[self.index[row] as usize]
    }
}

/// The columns read from one CSV file.
#[derive(Debug)]
pub struct Table {
    pub path: PathBuf,
    pub rows: usize,
    numeric: Vec<(String, Vec<f64>)>,
    text: Vec<(String, TextColumn)>,
}

impl Table {
    /// A numeric column that was asked for (as required or optional); an optional column
    /// the file lacks reads as all NaN.
    pub fn num(&self, name: &str) -> &[f64] {
        self.numeric
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_else(|| panic!("column {name} was not read"))
    }

    pub fn has(&self, name: &str) -> bool {
        self.numeric.iter().any(|(n, v)| n == name && v.iter().any(|x| !x.is_nan()))
    }

    pub fn text(&self, name: &str) -> &TextColumn {
        self.text
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("column {name} was not read"))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

fn csv_error(path: &Path, source: csv::Error) -> ReportError {
    ReportError::Csv { path: path.display().to_string(), source }
}

fn invalid(path: &Path, message: String) -> ReportError {
    io_error(path, std::io::Error::new(std::io::ErrorKind::InvalidData, message))
}

/// Parses one CSV cell as a number: empty is NaN, `true`/`false` are 1 and 0.
pub fn parse_number(cell: &str) -> Option<f64> {
    let cell = cell.trim();
    match cell {
        "" => Some(f64::NAN),
        "true" => Some(1.0),
        "false" => Some(0.0),
        _ => cell.parse::<f64>().ok(),
    }
}

/// Opens `path` as CSV, or says why it is skipped (absent).
fn open(path: &Path) -> Result<Input<csv::Reader<std::fs::File>>, ReportError> {
    match std::fs::File::open(path) {
        Ok(file) => Ok(Input::Ready(csv::ReaderBuilder::new().has_headers(true).from_reader(file))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(Input::Skip(format!("{} is absent", file_name(path))))
        }
        Err(error) => Err(io_error(path, error)),
    }
}

/// Reads the named columns of `path`: `numeric` and `text` must be present, `optional`
/// numeric columns may be missing.
pub fn read(path: &Path, numeric: &[&str], text: &[&str], optional: &[&str]) -> Result<Input<Table>, ReportError> {
    let mut reader = match open(path)? {
        Input::Ready(reader) => reader,
        Input::Skip(why) => return Ok(Input::Skip(why)),
    };
    let header = reader.byte_headers().map_err(|e| csv_error(path, e))?.clone();
    if header.is_empty() {
        return Ok(Input::Skip(format!("{} is empty", file_name(path))));
    }
    let position = |name: &str| header.iter().position(|h| h == name.as_bytes());
    let mut numeric_columns = Vec::new();
    for name in numeric {
        match position(name) {
            Some(at) => numeric_columns.push((name.to_string(), Some(at), Vec::new())),
            None => return Ok(Input::Skip(format!("{} has no column {name}", file_name(path)))),
        }
    }
    for name in optional {
        numeric_columns.push((name.to_string(), position(name), Vec::new()));
    }
    let mut text_columns = Vec::new();
    for name in text {
        match position(name) {
            Some(at) => text_columns.push((name.to_string(), at, TextColumn::default(), BTreeMap::new())),
            None => return Ok(Input::Skip(format!("{} has no column {name}", file_name(path)))),
        }
    }
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while reader.read_byte_record(&mut record).map_err(|e| csv_error(path, e))? {
        rows += 1;
        for (name, at, values) in &mut numeric_columns {
            let Some(at) = *at else {
                values.push(f64::NAN);
                continue;
            };
            let cell = record.get(at).unwrap_or_default();
            let cell = std::str::from_utf8(cell).unwrap_or("?");
            let value = parse_number(cell)
                .ok_or_else(|| invalid(path, format!("line {}, column {name}: {cell:?} is not a number", rows + 1)))?;
            values.push(value);
        }
        for (_, at, column, lookup) in &mut text_columns {
            let cell = String::from_utf8_lossy(record.get(*at).unwrap_or_default());
            let index = match lookup.get(cell.as_ref()) {
                Some(&index) => index,
                None => {
                    let index = column.values.len() as u32;
                    column.values.push(cell.clone().into_owned());
                    lookup.insert(cell.into_owned(), index);
                    index
                }
            };
            column.index.push(index);
        }
    }
    if rows == 0 {
        return Ok(Input::Skip(format!("{} has no rows", file_name(path))));
    }
    Ok(Input::Ready(Table {
        path: path.to_path_buf(),
        rows,
        numeric: numeric_columns.into_iter().map(|(name, _, values)| (name, values)).collect(),
        text: text_columns.into_iter().map(|(name, _, column, _)| (name, column)).collect(),
    }))
}

/// A small table read whole, as text (the sweep tables, whose columns depend on the grid).
#[derive(Debug)]
pub struct TextTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl TextTable {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}

pub fn read_text(path: &Path) -> Result<Input<TextTable>, ReportError> {
    let mut reader = match open(path)? {
        Input::Ready(reader) => reader,
        Input::Skip(why) => return Ok(Input::Skip(why)),
    };
    let header: Vec<String> = reader.headers().map_err(|e| csv_error(path, e))?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
    }
    if header.is_empty() || rows.is_empty() {
        return Ok(Input::Skip(format!("{} has no rows", file_name(path))));
    }
    Ok(Input::Ready(TextTable { header, rows }))
}

/// Reads `summary.json` (or any JSON file); `None` when absent.
pub fn read_json(path: &Path) -> Result<Option<serde_json::Value>, ReportError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| ReportError::Json { path: path.display().to_string(), source }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(path, error)),
    }
}

/// Reads a text file; `None` when absent.
pub fn read_optional_text(path: &Path) -> Result<Option<String>, ReportError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(path, error)),
    }
}

/// The number at the end of a shard id (`shardId-000000000012` is 12), for ordering.
pub fn shard_number(id: &str) -> Option<u64> {
    let digits: String = id.chars().rev().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    digits.chars().rev().collect::<String>().parse().ok()
}

/// A short label for a shard id: its number when it has one.
pub fn shard_label(id: &str) -> String {
    shard_number(id).map(|n| n.to_string()).unwrap_or_else(|| id.to_string())
}
