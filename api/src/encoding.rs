//! Content codings: negotiating one from `Accept-Encoding`, compressing a body with it (whole, or on the fly for a
//! streamed body), and [`Representations`], a body hashed once and compressed at most once per coding (when a
//! client first asks for that coding) with a strong `ETag` each, so that serving it again costs no hashing or
//! compressing.
//!
//! **Which codings and levels.** gzip (every client), brotli and zstd (browsers and curl send them). The levels
//! keep the CPU cost per request small, since a miss or an uncached answer is compressed while the client waits:
//! gzip 4 (zlib-rs; within a few percent of level 6's size on JSON at about half its time), brotli 4 (smaller than
//! gzip at a similar cost; levels above 5 cost several times more) and zstd 3 (its default: faster than gzip 4
//! and smaller). JSON of figures and rows compresses 8-15x at these levels (see `bench/README.md`).
//!
//! **Preference.** Among the codings the client accepts with the highest `q`, zstd, then brotli, then gzip:
//! zstd is the cheapest to produce and to decode at a size close to brotli's.
//!
//! **Entity tags.** A representation's `ETag` is the identity body's tag with the coding as a suffix
//! (`"…-gzip"`), so each coding has its own strong tag and an `If-None-Match` matches only the representation the
//! request would get.

use std::io::Write;
use std::sync::OnceLock;

use bytes::Bytes;
use poem::Body;
use poem::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

/// Bodies smaller than this many bytes are sent as they are: compressing saves too little to be worth a coding.
pub const MIN_COMPRESSED_BYTES: usize = 1024;
/// gzip level (0-9).
pub const GZIP_LEVEL: u32 = 4;
/// brotli quality (0-11).
pub const BROTLI_QUALITY: u32 = 4;
/// brotli window (log2 bytes): 4 MiB, brotli's default.
const BROTLI_WINDOW: u32 = 22;
/// zstd level (1-22).
pub const ZSTD_LEVEL: i32 = 3;

/// A content coding of a response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
  /// No coding.
  Identity,
  /// `gzip`.
  Gzip,
  /// `br`.
  Brotli,
  /// `zstd`.
  Zstd,
}

impl Encoding {
  /// The compressed codings, most preferred first.
  pub const COMPRESSED: [Self; 3] = [Self::Zstd, Self::Brotli, Self::Gzip];

  /// The coding's token in `Accept-Encoding` and `Content-Encoding`.
  #[must_use]
  pub fn token(self) -> &'static str {
    match self {
      Self::Identity => "identity",
      Self::Gzip => "gzip",
      Self::Brotli => "br",
      Self::Zstd => "zstd",
    }
  }

  /// The coding the client prefers among those it accepts (`q > 0`), by its `Accept-Encoding`, ties broken by
  /// [`Encoding::COMPRESSED`]'s order; identity when it accepts none of them (or sends no `Accept-Encoding`).
  #[must_use]
  pub fn negotiate(headers: &HeaderMap) -> Self {
    let mut explicit: [Option<f32>; 3] = [None; 3];
    let mut any: Option<f32> = None;
    let items = headers
      .get_all(header::ACCEPT_ENCODING)
      .iter()
      .filter_map(|value| value.to_str().ok())
      .flat_map(|value| value.split(','));
    for item in items {
      let mut parts = item.split(';');
      let token = parts.next().unwrap_or_default().trim();
      let quality = parts
        .filter_map(|parameter| {
          let (name, value) = parameter.split_once('=')?;
          name
            .trim()
            .eq_ignore_ascii_case("q")
            .then(|| value.trim().parse::<f32>().ok())
            .flatten()
        })
        .next()
        .unwrap_or(1.0);
      if token == "*" {
        any = Some(quality);
      } else if let Some(index) = Self::COMPRESSED
        .iter()
        .position(|coding| token.eq_ignore_ascii_case(coding.token()))
      {
        explicit[index] = Some(quality);
      }
    }
    let mut best = (Self::Identity, 0.0_f32);
    for (index, coding) in Self::COMPRESSED.iter().enumerate() {
      let quality = explicit[index].or(any).unwrap_or(0.0);
      if quality > best.1 {
        best = (*coding, quality);
      }
    }
    best.0
  }

  fn stored_id(self) -> u8 {
    match self {
      Self::Identity => 0,
      Self::Gzip => 1,
      Self::Brotli => 2,
      Self::Zstd => 3,
    }
  }

  fn from_stored_id(id: u8) -> Option<Self> {
    match id {
      0 => Some(Self::Identity),
      1 => Some(Self::Gzip),
      2 => Some(Self::Brotli),
      3 => Some(Self::Zstd),
      _ => None,
    }
  }

  /// `body` compressed with this coding (identity: a copy).
  #[must_use]
  pub fn compress(self, body: &[u8]) -> Vec<u8> {
    match self {
      Self::Identity => body.to_vec(),
      Self::Gzip => {
        let mut encoder = flate2::write::GzEncoder::new(
          Vec::with_capacity(body.len() / 4),
          flate2::Compression::new(GZIP_LEVEL),
        );
        // Writing into a Vec cannot fail.
        encoder
          .write_all(body)
          .and_then(|()| encoder.finish())
          .unwrap_or_default()
      }
      Self::Brotli => {
        let mut output = Vec::with_capacity(body.len() / 4);
        {
          let mut writer =
            brotli::CompressorWriter::new(&mut output, 16 * 1024, BROTLI_QUALITY, BROTLI_WINDOW);
          writer.write_all(body).ok();
        }
        output
      }
      Self::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL).unwrap_or_default(),
    }
  }

  /// `body` compressed with this coding as it streams (identity: unchanged).
  #[must_use]
  pub fn compress_stream(self, body: Body) -> Body {
    use async_compression::Level;
    use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
    let reader = tokio::io::BufReader::new(body.into_async_read());
    match self {
      Self::Identity => Body::from_async_read(reader),
      Self::Gzip => Body::from_async_read(GzipEncoder::with_quality(
        reader,
        Level::Precise(GZIP_LEVEL as i32),
      )),
      Self::Brotli => Body::from_async_read(BrotliEncoder::with_quality(
        reader,
        Level::Precise(BROTLI_QUALITY as i32),
      )),
      Self::Zstd => Body::from_async_read(ZstdEncoder::with_quality(
        reader,
        Level::Precise(ZSTD_LEVEL),
      )),
    }
  }
}

/// Whether responses of `content_type` are worth compressing: JSON (problems included), CSV, HTML, JavaScript
/// and plain text. Event streams are not (each event must leave at once).
#[must_use]
pub fn is_compressible(content_type: &str) -> bool {
  let essence = content_type
    .split(';')
    .next()
    .unwrap_or_default()
    .trim()
    .to_ascii_lowercase();
  essence == "application/json"
    || essence.ends_with("+json")
    || essence == "text/csv"
    || essence == "text/html"
    || essence == "text/plain"
    || essence == "text/javascript"
    || essence == "application/javascript"
}

/// The strong entity tag of an identity body: the first 128 bits of its SHA-256, quoted.
#[must_use]
pub fn entity_tag(body: &[u8]) -> String {
  let digest = Sha256::digest(body);
  let hex: String = digest[..16]
    .iter()
    .map(|byte| format!("{byte:02x}"))
    .collect();
  format!("\"{hex}\"")
}

/// The entity tag of the `encoding` representation of a body whose identity tag is `identity_tag`.
#[must_use]
pub fn representation_tag(identity_tag: &str, encoding: Encoding) -> String {
  match encoding {
    Encoding::Identity => identity_tag.to_owned(),
    coding => format!(
      "{}-{}\"",
      identity_tag.trim_end_matches('"'),
      coding.token()
    ),
  }
}

/// Whether an `If-None-Match` value lists `tag` (weak comparison, as RFC 9110 requires for `If-None-Match`).
#[must_use]
pub fn none_match_lists(if_none_match: &str, tag: &str) -> bool {
  if_none_match
    .split(',')
    .map(str::trim)
    .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

/// The first bytes of [`Representations::to_stored`].
const STORED_MAGIC: &[u8; 4] = b"F1R1";

/// One body in every coding, with a strong entity tag each: the identity body is hashed once when built, and each
/// compressed coding is compressed at most once, when first selected (or when built with
/// [`Representations::build_for`]), and kept; serving it again costs no hashing or compressing (attach it to a
/// response with `Response::set_data(Arc<Representations>)`).
#[derive(Clone, Debug)]
pub struct Representations {
  identity_tag: String,
  identity: Bytes,
  /// One per compressed coding, in [`Encoding::COMPRESSED`]'s order; empty when the body is smaller than
  /// [`MIN_COMPRESSED_BYTES`].
  compressed: Vec<Compressed>,
}

/// A compressed representation: its coding, its tag, and its bytes once compressed.
#[derive(Clone, Debug)]
struct Compressed {
  coding: Encoding,
  tag: String,
  bytes: OnceLock<Bytes>,
}

impl Representations {
  /// Hashes `body`; nothing is compressed until a coding is first selected.
  #[must_use]
  pub fn build(body: impl Into<Bytes>) -> Self {
    let identity: Bytes = body.into();
    Self::assemble(entity_tag(&identity), identity, |_| None)
  }

  /// The representations of `identity` (tagged `identity_tag`): one per compressed coding unless the body is
  /// smaller than [`MIN_COMPRESSED_BYTES`], holding the bytes `compressed_bytes` already has for it, if any.
  fn assemble(
    identity_tag: String,
    identity: Bytes,
    compressed_bytes: impl Fn(Encoding) -> Option<Bytes>,
  ) -> Self {
    let compressed = if identity.len() < MIN_COMPRESSED_BYTES {
      Vec::new()
    } else {
      Encoding::COMPRESSED
        .iter()
        .map(|coding| Compressed {
          coding: *coding,
          tag: representation_tag(&identity_tag, *coding),
          bytes: compressed_bytes(*coding)
            .map(OnceLock::from)
            .unwrap_or_default(),
        })
        .collect()
    };
    Self {
      identity_tag,
      identity,
      compressed,
    }
  }

  /// Like [`Representations::build`], and compresses the `encoding` representation now (e.g. the one the request
  /// that built the body negotiated, so that a shared cache stores it with the identity body).
  #[must_use]
  pub fn build_for(body: impl Into<Bytes>, encoding: Encoding) -> Self {
    let representations = Self::build(body);
    let _ = representations.select(encoding);
    representations
  }

  /// The identity body.
  #[must_use]
  pub fn identity(&self) -> &Bytes {
    &self.identity
  }

  /// The representation a request negotiating `encoding` gets: its coding, entity tag and bytes (compressed now
  /// when this coding was never selected before).
  #[must_use]
  pub fn select(&self, encoding: Encoding) -> (Encoding, &str, &Bytes) {
    match self
      .compressed
      .iter()
      .find(|compressed| compressed.coding == encoding)
    {
      Some(compressed) => (
        compressed.coding,
        compressed.tag.as_str(),
        compressed
          .bytes
          .get_or_init(|| Bytes::from(compressed.coding.compress(&self.identity))),
      ),
      None => (
        Encoding::Identity,
        self.identity_tag.as_str(),
        &self.identity,
      ),
    }
  }

  /// The codings compressed so far.
  #[must_use]
  pub fn compressed_codings(&self) -> Vec<Encoding> {
    self
      .compressed
      .iter()
      .filter(|compressed| compressed.bytes.get().is_some())
      .map(|compressed| compressed.coding)
      .collect()
  }

  /// The representations as one byte string, for a shared cache (Redis): `F1R1`, the identity tag (length byte,
  /// text), then per representation compressed so far (identity first) its coding (byte), length (`u32`
  /// little-endian) and bytes.
  #[must_use]
  pub fn to_stored(&self) -> Vec<u8> {
    let mut stored = Vec::with_capacity(self.weight() + 64);
    stored.extend_from_slice(STORED_MAGIC);
    // A tag is 34 bytes; longer cannot happen, and would be refused by `from_stored`.
    stored.push(u8::try_from(self.identity_tag.len()).unwrap_or(u8::MAX));
    stored.extend_from_slice(self.identity_tag.as_bytes());
    let parts = std::iter::once((Encoding::Identity, &self.identity)).chain(
      self
        .compressed
        .iter()
        .filter_map(|compressed| Some((compressed.coding, compressed.bytes.get()?))),
    );
    for (coding, bytes) in parts {
      stored.push(coding.stored_id());
      stored.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
      stored.extend_from_slice(bytes);
    }
    stored
  }

  /// Reads what [`Representations::to_stored`] wrote (without copying the bodies); `None` when `stored` is not
  /// such a byte string (e.g. an entry written by an older version).
  #[must_use]
  pub fn from_stored(stored: impl Into<Bytes>) -> Option<Self> {
    let stored: Bytes = stored.into();
    let rest = stored.strip_prefix(STORED_MAGIC.as_slice())?;
    let (&tag_length, rest) = rest.split_first()?;
    let tag = rest.get(..usize::from(tag_length))?;
    let identity_tag = std::str::from_utf8(tag).ok()?.to_owned();
    let mut offset = STORED_MAGIC.len() + 1 + usize::from(tag_length);
    let mut identity = None;
    let mut stored_codings = Vec::new();
    while offset < stored.len() {
      let coding = Encoding::from_stored_id(*stored.get(offset)?)?;
      let length = stored.get(offset + 1..offset + 5)?;
      let length = usize::try_from(u32::from_le_bytes(length.try_into().ok()?)).ok()?;
      let start = offset + 5;
      if start + length > stored.len() {
        return None;
      }
      let bytes = stored.slice(start..start + length);
      match coding {
        Encoding::Identity => identity = Some(bytes),
        coding => stored_codings.push((coding, bytes)),
      }
      offset = start + length;
    }
    let identity: Bytes = identity?;
    Some(Self::assemble(identity_tag, identity, |coding| {
      stored_codings
        .iter()
        .find(|(stored, _)| *stored == coding)
        .map(|(_, bytes)| bytes.clone())
    }))
  }

  /// How many bytes the representations hold together (a cache weigher's measure): the identity body, every
  /// tag, and the codings compressed so far. A coding compressed later (first selected after the entry was
  /// weighed) adds at most about a third of the identity body (JSON compresses 8-15x in each).
  #[must_use]
  pub fn weight(&self) -> usize {
    self.identity.len()
      + self.identity_tag.len()
      + self
        .compressed
        .iter()
        .map(|compressed| compressed.tag.len() + compressed.bytes.get().map_or(0, Bytes::len))
        .sum::<usize>()
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use poem::http::HeaderValue;

  fn accepting(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
      header::ACCEPT_ENCODING,
      HeaderValue::from_str(value).expect("header"),
    );
    headers
  }

  /// The coding negotiated for an `Accept-Encoding` of `value`.
  fn negotiated(value: &str) -> Encoding {
    Encoding::negotiate(&accepting(value))
  }

  #[test]
  fn no_accept_encoding_means_identity() {
    assert_eq!(Encoding::negotiate(&HeaderMap::new()), Encoding::Identity);
    assert_eq!(negotiated("identity"), Encoding::Identity);
    assert_eq!(negotiated("deflate"), Encoding::Identity);
  }

  #[test]
  fn the_preferred_coding_wins_ties_and_quality_wins_over_preference() {
    assert_eq!(negotiated("gzip, deflate, br, zstd"), Encoding::Zstd);
    assert_eq!(negotiated("gzip, br"), Encoding::Brotli);
    assert_eq!(negotiated("gzip;q=1.0, br;q=0.5"), Encoding::Gzip);
    assert_eq!(negotiated("GZIP; q=0.8"), Encoding::Gzip);
  }

  #[test]
  fn a_zero_quality_refuses_a_coding_even_under_a_star() {
    assert_eq!(negotiated("*, zstd;q=0, br;q=0"), Encoding::Gzip);
    assert_eq!(negotiated("gzip;q=0"), Encoding::Identity);
    assert_eq!(negotiated("*"), Encoding::Zstd);
  }

  #[test]
  fn every_coding_round_trips_and_gets_its_own_tag() {
    let body = br#"{"data":[{"x":[1,2,3],"y":[97.2,96.5,96.6]}]}"#.repeat(100);
    let representations = Representations::build(body.clone());
    let mut tags = std::collections::HashSet::new();
    for coding in Encoding::COMPRESSED {
      let (selected, tag, bytes) = representations.select(coding);
      assert_eq!(selected, coding);
      assert!(bytes.len() * 5 < body.len());
      tags.insert(tag.to_owned());
    }
    tags.insert(representations.select(Encoding::Identity).1.to_owned());
    assert_eq!(tags.len(), 4);
    let small = Representations::build(&b"{}"[..]);
    assert_eq!(small.select(Encoding::Gzip).0, Encoding::Identity);
  }

  #[test]
  fn representations_survive_the_shared_cache_and_garbage_is_refused() {
    let body = br#"{"data":[{"x":[1,2,3],"y":[97.2,96.5,96.6]}]}"#.repeat(100);
    let representations = Representations::build(body);
    let read = Representations::from_stored(representations.to_stored()).expect("readable");
    for coding in [
      Encoding::Identity,
      Encoding::Gzip,
      Encoding::Brotli,
      Encoding::Zstd,
    ] {
      assert_eq!(read.select(coding), representations.select(coding));
    }
    assert!(Representations::from_stored(&b"{\"data\":[]}"[..]).is_none());
    let mut truncated = representations.to_stored();
    truncated.truncate(truncated.len() - 1);
    assert!(Representations::from_stored(truncated).is_none());
  }

  #[test]
  fn only_the_codings_asked_for_are_compressed_and_stored() {
    let body = br#"{"data":[{"x":[1,2,3],"y":[97.2,96.5,96.6]}]}"#.repeat(100);
    let built = Representations::build(body.clone());
    assert!(built.compressed_codings().is_empty());
    let light = built.weight();
    let representations = Representations::build_for(body, Encoding::Gzip);
    assert_eq!(representations.compressed_codings(), vec![Encoding::Gzip]);
    assert!(representations.weight() > light);
    let read = Representations::from_stored(representations.to_stored()).expect("readable");
    assert_eq!(read.compressed_codings(), vec![Encoding::Gzip]);
    assert_eq!(
      read.select(Encoding::Gzip),
      representations.select(Encoding::Gzip)
    );
    let (coding, tag, bytes) = read.select(Encoding::Brotli);
    assert_eq!(coding, Encoding::Brotli);
    assert!(tag.ends_with("-br\""), "{tag}");
    assert!(!bytes.is_empty());
    assert_eq!(
      read.compressed_codings(),
      vec![Encoding::Brotli, Encoding::Gzip]
    );
  }
}
