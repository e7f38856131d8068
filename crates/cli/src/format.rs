//! Output formatting shared by commands.

/// Aligns `rows` into columns like Consul's `columnize.Format`: cells are
/// trimmed, every column but the last is left-aligned to its widest cell and
/// followed by two spaces; lines are joined with `\n` (no trailing newline).
pub(crate) fn columnize(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.trim().chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let lines: Vec<String> = rows.iter().map(|row| format_row(row, &widths)).collect();
    lines.join("\n")
}

fn format_row(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, cell) in row.iter().enumerate() {
        let cell = cell.trim();
        if i + 1 == row.len() {
            line.push_str(cell);
        } else {
            let width = widths.get(i).copied().unwrap_or(0);
            line.push_str(&format!("{cell:<width$}  "));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_without_padding_the_last() {
        let rows = vec![
            vec!["Node".to_owned(), "ID".to_owned(), "Voter".to_owned()],
            vec!["server-long".to_owned(), "1".to_owned(), "true".to_owned()],
        ];
        assert_eq!(
            columnize(&rows),
            "Node         ID  Voter\nserver-long  1   true"
        );
    }
}
