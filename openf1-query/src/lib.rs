//! Open F1's filter language (upstream: `query_api/query_params.py`, `util/type_casting.py`, `util/db.py`), in one
//! home for its two readers: the api's Open F1 drop-in compiles a [`Filter`] to SQL, the local Open F1 server
//! (`tests/openf1-server`) evaluates it in memory over recorded rows. Evaluation stays with each reader, so the
//! differential test still checks the SQL compilation against an independent evaluator.
//!
//! 1. The query string is split like Starlette does (`&`, then the first `=`, each side percent-decoded with `+` as
//!    a space). A pair with a value is rejoined as `key=value`, a pair without one is the bare `key`; so
//!    `position%3C=3` arrives as `position<=3` and `date>2023-09-16T13:03` (no `=`) as `date>2023-09-16T13:03`.
//! 2. The operator is the first of `>=`, `<=`, `=`, `>`, `<` that the term contains, split at its first
//!    occurrence; the field is lower-cased. A term with none is an error.
//! 3. The value is cast: `true`/`false`, an integer, a float, a datetime (naive = UTC), else text; `gmt_offset` and
//!    `team_colour` values are never cast. `session_key=latest` / `meeting_key=latest` become the latest session's
//!    keys. A bare date covers its whole day (`=D` ⇒ `>=D` and `<D+1`, `>D` ⇒ `>=D+1`, `<=D` ⇒ `<D+1`).
//! 4. Per field, duplicate predicates are dropped; equalities are alternatives; lower and upper bounds are paired
//!    greedily into ranges (each a conjunction); the rest are alternatives. Fields are AND-ed.
//! 5. `csv` is not a filter: the first `csv` term's value, cast, decides the format by Python truthiness.
//!
//! Modules (private; their items are re-exported here):
//! - `parse`: the query string split into [`Term`]s ([`parse_query`], [`query_pairs`]).
//! - `value`: a term's text cast into a [`Value`].
//! - `datetime`: the lenient datetime parser ([`parse_datetime`]), for filter values and row values alike.
//! - `filter`: the terms cast and grouped into a [`Filter`] of OR-ed alternatives per field.
//! - `order`: [`ANSWER_SORT_FIELDS`], the fields upstream orders its answers by.

mod datetime;
mod filter;
mod order;
mod parse;
mod value;

pub use crate::datetime::{ParsedDateTime, parse_datetime};
pub use crate::filter::{FieldFilter, Filter, LatestSession, Predicate};
pub use crate::order::ANSWER_SORT_FIELDS;
pub use crate::parse::{Operator, ParsedQuery, QueryError, Term, parse_query, query_pairs};
pub use crate::value::{NEVER_CAST_FIELDS, Value};
