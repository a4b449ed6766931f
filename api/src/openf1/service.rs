//! The Open F1 drop-in as a poem-openapi API: one documented operation per endpoint and method (generated from
//! the [catalogue](crate::openf1::catalogue), so the documented filters are exactly the fields served), all routed
//! to one handler at `/openf1/v1/:endpoint` (upstream lower-cases the endpoint and answers an unknown one with its
//! empty answer, so one route serves them all).

use std::collections::HashMap;

use openf1_query::NEVER_CAST_FIELDS;
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::{EndpointExt, Request, Response};
use poem_openapi::registry::{
  MetaApi, MetaHeader, MetaMediaType, MetaOperation, MetaOperationParam, MetaParamIn, MetaPath,
  MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, MetaTag, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{Object, OpenApi};

use crate::AppState;
use crate::bodies::{
  CarData, Driver, DriverStanding, GridSlot, Interval, Lap, Location, Meeting, Overtake, PitStop,
  Position, RaceControlMessage, Session, SessionResult, Stint, TeamRadio, TeamStanding, Weather,
};
use crate::openf1::OPENF1_PREFIX;
use crate::openf1::answer::answer;
use crate::openf1::catalogue::{Endpoint, EndpointCatalogue, Field, FieldKind};
use crate::problem::Problem;

/// The tag of the Open F1 operations.
pub const TAG: &str = "OpenF1";

/// How the Open F1 operations filter, for the tag's description.
const RULES: &str = "Open F1 drop-in: point code written for `https://api.openf1.org/v1` at `{api}/openf1/v1` and it \
  gets the same answers, from this server's database and cache.\n\n\
  **Filters**: `field=value`, `field>value`, `field>=value`, `field<value`, `field<=value` on any field but arrays; \
  percent-encode `<` and `>` (`lap_number%3E%3D50`; `position%3C=3` also means `position<=3`). Raw `<`, `>` and `\"` \
  in a URL are refused by the HTTP parser with an empty `400` before any handler runs (`curl -G --data-urlencode` \
  encodes them). Values are cast as upstream casts them: `true`/`false`, integers, decimals, datetimes (naive times \
  are UTC), else text compared exactly (`gmt_offset` and `team_colour` are always text). A value of another type \
  than the field's never matches, and neither does a field the endpoint does not have. A date alone covers its \
  whole day (`date=2024-03-02`, `date>2024-03-02` means from March 3). Equalities on one field are OR-ed \
  (`driver_number=1&driver_number=44`), lower and upper bounds on one field pair into OR-ed ranges \
  (`lap_number>=5&lap_number<=10&lap_number>=40&lap_number<=45`), different fields are AND-ed. \
  `session_key=latest` and `meeting_key=latest` stand for the most recent session.\n\n\
  **Answers**: every matching row, no paging, in upstream's order, with upstream's field names, types and \
  timestamps (`2024-03-02T15:03:42.341000+00:00`). `csv=true` answers CSV. No match answers `404` \
  `{\"detail\":\"No results found.\"}`, as upstream does. GET and POST (with the query in the URL) answer alike. \
  Answers up to `API_OPENF1_CACHE_MAX_BYTES` (1 MiB by default) are cached and carry an `ETag`; bigger ones (a \
  session's `car_data` or `location`) stream.";

/// Upstream's empty answer.
#[derive(Clone, Debug, Object)]
pub struct NoResults {
  /// Always `No results found.`
  pub detail: String,
}

/// The Open F1 drop-in operations.
pub struct OpenF1Api;

/// The schema of one row of `endpoint` (the native body type with the same fields), registered when `registry` is
/// given.
fn row_schema(endpoint: Endpoint, registry: Option<&mut Registry>) -> MetaSchemaRef {
  fn schema<T: Type>(registry: Option<&mut Registry>) -> MetaSchemaRef {
    if let Some(registry) = registry {
      T::register(registry);
    }
    T::schema_ref()
  }
  match endpoint {
    Endpoint::Meetings => schema::<Meeting>(registry),
    Endpoint::Sessions => schema::<Session>(registry),
    Endpoint::Drivers => schema::<Driver>(registry),
    Endpoint::Laps => schema::<Lap>(registry),
    Endpoint::CarData => schema::<CarData>(registry),
    Endpoint::Location => schema::<Location>(registry),
    Endpoint::Position => schema::<Position>(registry),
    Endpoint::Intervals => schema::<Interval>(registry),
    Endpoint::Pit => schema::<PitStop>(registry),
    Endpoint::Stints => schema::<Stint>(registry),
    Endpoint::Weather => schema::<Weather>(registry),
    Endpoint::RaceControl => schema::<RaceControlMessage>(registry),
    Endpoint::TeamRadio => schema::<TeamRadio>(registry),
    Endpoint::SessionResult => schema::<SessionResult>(registry),
    Endpoint::StartingGrid => schema::<GridSlot>(registry),
    Endpoint::Overtakes => schema::<Overtake>(registry),
    Endpoint::ChampionshipDrivers => schema::<DriverStanding>(registry),
    Endpoint::ChampionshipTeams => schema::<TeamStanding>(registry),
  }
}

fn inline(schema: MetaSchema) -> MetaSchemaRef {
  MetaSchemaRef::Inline(Box::new(schema))
}

/// A non-empty text: an empty value (`?team_name=`) is a term without operator for upstream (and a 400 here).
fn text_schema() -> MetaSchema {
  MetaSchema {
    min_length: Some(1),
    ..MetaSchema::new("string")
  }
}

/// The documented schema of one value of `field` (a query parameter may repeat it).
fn value_schema(field: &Field) -> MetaSchema {
  match field.kind {
    _ if matches!(field.name, "session_key" | "meeting_key") => MetaSchema {
      pattern: Some("^(-?[0-9]+|latest)$".to_owned()),
      ..MetaSchema::new("string")
    },
    FieldKind::Integer => MetaSchema::new_with_format("integer", "int64"),
    FieldKind::Float => MetaSchema::new_with_format("number", "double"),
    FieldKind::Bool => MetaSchema::new("boolean"),
    FieldKind::DateTime => MetaSchema::new_with_format("string", "date-time"),
    FieldKind::Text | FieldKind::Json | FieldKind::NumberOrText { .. } => text_schema(),
  }
}

fn parameter_description(field: &Field) -> String {
  let kind = match field.kind {
    _ if matches!(field.name, "session_key" | "meeting_key") => "an integer, or `latest`",
    FieldKind::Integer => "an integer",
    FieldKind::Float => "a number",
    FieldKind::Bool => "`true` or `false`",
    FieldKind::DateTime => "a UTC datetime; a date alone covers its day",
    FieldKind::Text if NEVER_CAST_FIELDS.contains(&field.name) => "a text, never cast",
    FieldKind::Text => "a text, exact and case-sensitive",
    FieldKind::Json => "a number or a text (arrays never match)",
    FieldKind::NumberOrText { .. } => "a number of seconds or a text such as `+1 LAP`",
  };
  format!(
    "`{name}` equal to this value ({kind}). Also `{name}>value`, `{name}>=value`, `{name}<value`, `{name}<=value` \
     (percent-encoded: `{name}%3E%3Dvalue`). Repeat to OR equalities or pair bounds into ranges.",
    name = field.name
  )
}

fn operation(endpoint: Endpoint, method: Method) -> MetaOperation {
  let mut params: Vec<MetaOperationParam> = endpoint
    .fields()
    .iter()
    .map(|field| MetaOperationParam {
      name: field.name.to_owned(),
      schema: inline(MetaSchema {
        items: Some(Box::new(inline(value_schema(field)))),
        ..MetaSchema::new("array")
      }),
      in_type: MetaParamIn::Query,
      description: Some(parameter_description(field)),
      required: false,
      deprecated: false,
      explode: true,
      style: None,
    })
    .collect();
  params.push(MetaOperationParam {
    name: "csv".to_owned(),
    schema: inline(text_schema()),
    in_type: MetaParamIn::Query,
    description: Some(
      "`true` answers CSV (header: the sorted field names; `True`/`False`; empty for null). Read as upstream \
       reads it, by Python truthiness: `1` or any text also answer CSV, `false` and `0` answer JSON."
        .to_owned(),
    ),
    required: false,
    deprecated: false,
    explode: true,
    style: None,
  });
  let post = method == Method::POST;
  let rows = inline(MetaSchema {
    items: Some(Box::new(row_schema(endpoint, None))),
    ..MetaSchema::new("array")
  });
  let problem = |description: &'static str, status: u16| MetaResponse {
    description,
    status: Some(status),
    status_range: None,
    content: vec![MetaMediaType {
      content_type: "application/problem+json",
      schema: Problem::schema_ref(),
    }],
    headers: Vec::new(),
  };
  MetaOperation {
    method,
    tags: vec![TAG],
    summary: Some(endpoint.summary()),
    description: Some(endpoint.description()),
    external_docs: None,
    params,
    request: None,
    responses: MetaResponses {
      responses: vec![
        MetaResponse {
          description: "Every matching row, in upstream's order (JSON, or CSV with `csv=true`). Answers up to \
                        `API_OPENF1_CACHE_MAX_BYTES` carry an `ETag`.",
          status: Some(200),
          status_range: None,
          content: vec![
            MetaMediaType {
              content_type: "application/json",
              schema: rows,
            },
            MetaMediaType {
              content_type: "text/csv",
              schema: inline(MetaSchema::new("string")),
            },
          ],
          headers: vec![MetaHeader {
            name: "Cache-Control".to_owned(),
            description: Some(
              "`public, max-age=…`: long for finished sessions, short for live ones.".to_owned(),
            ),
            required: true,
            deprecated: false,
            schema: inline(MetaSchema::new("string")),
          }],
        },
        MetaResponse {
          description: "The answer did not change (`If-None-Match` matched the `ETag`).",
          status: Some(304),
          status_range: None,
          content: Vec::new(),
          headers: Vec::new(),
        },
        problem(
          "A query term has no operator (`?driver_number` alone); upstream answers 500.",
          400,
        ),
        MetaResponse {
          description: "No row matches, as upstream answers it: `{\"detail\":\"No results found.\"}`.",
          status: Some(404),
          status_range: None,
          content: vec![MetaMediaType {
            content_type: "application/json",
            schema: NoResults::schema_ref(),
          }],
          headers: Vec::new(),
        },
        problem(
          "The query string is longer than 4096 bytes (answered by the request-limit layer, before any handler).",
          414,
        ),
        problem(
          "Unexpected failure (details are logged, not returned).",
          500,
        ),
        problem(
          "The database is unreachable or the request took too long.",
          503,
        ),
      ],
    },
    deprecated: false,
    security: Vec::new(),
    operation_id: Some(endpoint.operation_id(post)),
    code_samples: Vec::new(),
  }
}

impl OpenApi for OpenF1Api {
  fn meta() -> Vec<MetaApi> {
    vec![MetaApi {
      paths: Endpoint::ALL
        .into_iter()
        .map(|endpoint| MetaPath {
          path: format!("{OPENF1_PREFIX}/{}", endpoint.name()),
          operations: vec![
            operation(endpoint, Method::GET),
            operation(endpoint, Method::POST),
          ],
        })
        .collect(),
    }]
  }

  fn register(registry: &mut Registry) {
    registry.tags.insert(MetaTag {
      name: TAG,
      description: Some(RULES),
      external_docs: None,
    });
    for endpoint in Endpoint::ALL {
      row_schema(endpoint, Some(registry));
    }
    Problem::register(registry);
    NoResults::register(registry);
  }

  fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
    let handler = || {
      poem::endpoint::make(|request: Request| async move {
        let Some(state) = request.data::<AppState>().cloned() else {
          return Err(poem::Error::from_string(
            "the application state is missing",
            poem::http::StatusCode::INTERNAL_SERVER_ERROR,
          ));
        };
        let endpoint = request
          .raw_path_param("endpoint")
          .unwrap_or_default()
          .to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        Ok::<Response, poem::Error>(answer(&state, &endpoint, &query).await)
      })
      .boxed()
    };
    let methods = route_table
      .entry(format!("{OPENF1_PREFIX}/:endpoint"))
      .or_default();
    methods.insert(Method::GET, handler());
    methods.insert(Method::POST, handler());
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// The documented row schema of each endpoint has exactly the fields served.
  #[test]
  fn documented_rows_have_exactly_the_served_fields() {
    let mut registry = Registry::new();
    for endpoint in Endpoint::ALL {
      let MetaSchemaRef::Reference(name) = row_schema(endpoint, Some(&mut registry)) else {
        panic!("{endpoint:?}: expected a named schema");
      };
      let schema = registry.schemas.get(&name).expect("registered");
      let mut documented: Vec<&str> = schema.properties.iter().map(|(name, _)| *name).collect();
      let mut served: Vec<&str> = endpoint.fields().iter().map(|field| field.name).collect();
      documented.sort_unstable();
      served.sort_unstable();
      assert_eq!(documented, served, "{endpoint:?}");
    }
  }
}
