//! The order of upstream's answers.

/// Upstream's final ordering of an answer (`query_api/sort.py`): rows are sorted by these fields, in this order,
/// using only those present and non-null in every row of the answer; a stable sort, so ties keep the database order.
pub const ANSWER_SORT_FIELDS: [&str; 9] = [
  "date",
  "date_start",
  "meeting_key",
  "session_key",
  "lap_start",
  "lap_number",
  "lap_end",
  "date_end",
  "driver_number",
];
