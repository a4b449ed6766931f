//! An injectable clock, so replay and token expiry can be tested without sleeping.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};

/// The server's notion of "now": the system clock by default, or any function (tests use [`ManualClock`]).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
  /// The system clock ([`Utc::now`]).
  #[must_use]
  pub fn system() -> Self {
    Self(Arc::new(Utc::now))
  }

  /// A clock that always answers `instant`.
  #[must_use]
  pub fn fixed(instant: DateTime<Utc>) -> Self {
    Self(Arc::new(move || instant))
  }

  /// A clock reading the time from `now`.
  pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
    Self(Arc::new(now))
  }

  /// The current instant according to this clock.
  #[must_use]
  pub fn now(&self) -> DateTime<Utc> {
    (self.0)()
  }
}

impl Default for Clock {
  fn default() -> Self {
    Self::system()
  }
}

impl fmt::Debug for Clock {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(formatter, "Clock(now = {})", self.now())
  }
}

/// A clock that only moves when told to; share it with the server through [`ManualClock::clock`].
#[derive(Clone, Debug)]
pub struct ManualClock {
  current: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
  /// A manual clock showing `start`.
  #[must_use]
  pub fn new(start: DateTime<Utc>) -> Self {
    Self {
      current: Arc::new(Mutex::new(start)),
    }
  }

  /// A [`Clock`] reading this manual clock.
  #[must_use]
  pub fn clock(&self) -> Clock {
    let current = Arc::clone(&self.current);
    Clock::from_fn(move || *current.lock().unwrap_or_else(PoisonError::into_inner))
  }

  /// The instant shown.
  #[must_use]
  pub fn now(&self) -> DateTime<Utc> {
    *self.current.lock().unwrap_or_else(PoisonError::into_inner)
  }

  /// Moves the clock to `instant`.
  pub fn set(&self, instant: DateTime<Utc>) {
    *self.current.lock().unwrap_or_else(PoisonError::into_inner) = instant;
  }

  /// Moves the clock forward by `step`.
  pub fn advance(&self, step: TimeDelta) {
    let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
    *current += step;
  }
}
