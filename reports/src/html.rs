//! A self-contained HTML page: inline CSS, inline SVG, no scripts and no references
//! outside the folder (the only links point at the plot files written beside it).

use crate::plots::escape;
use std::fmt::Write as _;

const STYLE: &str = "\
body{margin:0;background:#fafafa;color:#1a1a1a;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:1000px;margin:0 auto;padding:24px 20px 60px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:20px;margin:36px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:16px;margin:20px 0 6px}
p.meta{color:#555;margin:0 0 12px;font-size:13px}
p.lead{font-size:16px}
table{border-collapse:collapse;margin:8px 0 16px;background:#fff;font-size:14px}
th,td{border:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.pass{color:#fff;background:#009E73;font-weight:600;text-align:center}
td.fail{color:#fff;background:#D55E00;font-weight:600;text-align:center}
figure{margin:18px 0 28px;background:#fff;border:1px solid #e4e4e4;padding:8px}
figure svg{display:block;max-width:100%;height:auto}
figcaption{font-size:13px;color:#444;margin-top:6px}
pre{background:#fff;border:1px solid #e4e4e4;padding:12px;overflow-x:auto;font-size:13px;line-height:1.4}
ul.skipped{color:#555;font-size:14px}
nav a{margin-right:14px}
";

/// One table cell: text (escaped when written) and a class.
pub struct Cell {
    pub text: String,
    pub class: &'static str,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), class: "" }
    }

    pub fn num(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), class: "num" }
    }

    pub fn class(text: impl Into<String>, class: &'static str) -> Cell {
        Cell { text: text.into(), class }
    }
}

/// An HTML page under construction.
pub struct Page {
    title: String,
    body: String,
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page { title: title.to_string(), body: String::new() }
    }

    /// Appends markup as is (the caller escapes).
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
        if !html.ends_with('\n') {
            self.body.push('\n');
        }
    }

    pub fn heading(&mut self, level: u8, id: &str, text: &str) {
        let id = if id.is_empty() { String::new() } else { format!(" id=\"{}\"", escape(id)) };
        let _ = writeln!(self.body, "<h{level}{id}>{}</h{level}>", escape(text));
    }

    pub fn paragraph(&mut self, class: &str, text: &str) {
        let class = if class.is_empty() { String::new() } else { format!(" class=\"{class}\"") };
        let _ = writeln!(self.body, "<p{class}>{}</p>", escape(text));
    }

    pub fn table(&mut self, class: &str, header: &[&str], rows: &[Vec<Cell>]) {
        let class = if class.is_empty() { String::new() } else { format!(" class=\"{class}\"") };
        let _ = writeln!(self.body, "<table{class}>");
        self.body.push_str("<thead><tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                if cell.class.is_empty() {
                    let _ = write!(self.body, "<td>{}</td>", escape(&cell.text));
                } else {
                    let _ = write!(self.body, "<td class=\"{}\">{}</td>", cell.class, escape(&cell.text));
                }
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table>\n");
    }

    /// A plot inlined, with a caption and a link to its file beside the page.
    pub fn figure(&mut self, id: &str, svg: &str, caption: &str, href: &str) {
        let _ = writeln!(self.body, "<figure id=\"{}\">", escape(id));
        self.body.push_str(svg.trim_end());
        let _ = writeln!(
            self.body,
            "\n<figcaption>{} <a href=\"{}\">{}</a></figcaption>\n</figure>",
            escape(caption),
            escape(href),
            escape(href)
        );
    }

    pub fn list(&mut self, class: &str, items: &[String]) {
        if items.is_empty() {
            return;
        }
        let _ = writeln!(self.body, "<ul class=\"{class}\">");
        for item in items {
            let _ = writeln!(self.body, "<li>{}</li>", escape(item));
        }
        self.body.push_str("</ul>\n");
    }

    pub fn pre(&mut self, id: &str, text: &str) {
        let _ = writeln!(self.body, "<pre id=\"{}\">{}</pre>", escape(id), escape(text));
    }

    pub fn finish(self) -> String {
        let mut html = String::with_capacity(self.body.len() + STYLE.len() + 512);
        html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        let _ = writeln!(html, "<title>{}</title>", escape(&self.title));
        let _ = writeln!(html, "<style>\n{STYLE}</style>\n</head>\n<body>\n<main>");
        html.push_str(&self.body);
        html.push_str("</main>\n</body>\n</html>\n");
        html
    }
}

/// 7200409 as "7,200,409"; non-integers keep up to `decimals` decimals.
pub fn grouped(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let text = crate::plots::trim(value, decimals);
    let (sign, text) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest.to_string()),
        None => ("", text),
    };
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (text, None),
    };
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// A value of a JSON summary for a table: integers grouped, fractions to six
/// significant digits.
pub fn json_number(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                grouped(i as f64, 0)
            } else if let Some(u) = n.as_u64() {
                grouped(u as f64, 0)
            } else {
                significant(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::Null => "–".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Six significant digits, without exponent for everyday magnitudes.
pub fn significant(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    if value == 0.0 {
        return "0".into();
    }
    let magnitude = value.abs().log10().floor() as i32;
    if (-6..15).contains(&magnitude) {
        let decimals = (5 - magnitude).max(0) as usize;
        grouped(value, decimals)
    } else {
        format!("{value:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(7200409.0, 0), "7,200,409");
        assert_eq!(grouped(-1234.5, 2), "-1,234.5");
        assert_eq!(grouped(12.0, 0), "12");
        assert_eq!(significant(0.37564263781555707), "0.375643");
        assert_eq!(significant(223.92656268), "223.927");
        assert_eq!(significant(-0.36564263781555706), "-0.365643");
    }
}
