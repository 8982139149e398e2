//! A deterministic discrete-event simulation kernel.
//!
//! # What this crate is
//!
//! The machinery every discrete-event model needs, and nothing else:
//!
//! - [`time`]: an integer nanosecond clock ([`SimTime`], [`SimDuration`]) and
//!   exact parsers and formatters for durations and sizes written by people;
//! - [`queue`]: a bounded event queue with a total order on events (time,
//!   then [`Phase`], then insertion sequence);
//! - [`run`]: the event loop ([`Process`], [`run_until`]);
//! - [`rng`]: random streams derived from a seed, a replication number and a
//!   name ([`SeedKey`], [`RandomStream`]);
//! - [`sample`]: exact, reproducible samplers (uniform, normal, exponential,
//!   gamma, [`Poisson`], binomial, multinomial);
//! - [`histogram`]: a fixed-layout log-scale histogram for quantiles
//!   ([`LogHistogram`]);
//! - [`num`]: exact conversions between counts and `f64` that take one
//!   instruction on the hot paths.
//!
//! # What this crate is not
//!
//! It knows nothing about any model. It has no entities, no resources, no
//! notion of what an event means; event payloads are the model's own type and
//! the kernel never inspects them. Models live in other crates and drive the
//! kernel through [`Process`].
//!
//! # Determinism is the point
//!
//! A run must be a pure function of its configuration and seed: the same
//! inputs give bit-identical results on any machine, any number of times. So
//! the kernel never uses:
//!
//! - the wall clock: simulated time advances only by popping events, and
//!   elapsed real time never influences a decision;
//! - thread-local or operating-system randomness: every random value comes
//!   from a [`RandomStream`] whose position is a function of (seed,
//!   replication, name, step);
//! - iteration over hash maps: their order can change between runs and
//!   versions, so ordering is always an explicit key;
//! - the host's math library: transcendental functions come from `libm`,
//!   whose results do not depend on the platform;
//! - floating-point time: the clock is integer nanoseconds, so equal instants
//!   are equal and sums do not depend on their order.
//!
//! Invariants are asserted, not assumed: scheduling into the past, a full
//! queue, time going backwards, or an out-of-range parameter stop the run with
//! a message, because a silently wrong simulation is worse than a crashed one.

pub mod histogram;
pub mod interrupt;
pub mod num;
pub mod queue;
pub mod rng;
pub mod run;
pub mod sample;
pub mod time;

pub use histogram::LogHistogram;
pub use queue::{EventQueue, Phase, QueueFull, Scheduled};
pub use rng::{ChaCha8Rng, RandomStream, RngCore, SeedKey, SeedableRng};
pub use run::{run_until, Process, RunStats};
pub use sample::{poisson_tail_below, Binomial, Poisson, PoissonTable, PoissonTail, SteadyPoisson};
pub use time::{
    format_duration, parse_duration, parse_size, ParseError, SimDuration, SimTime, NANOS_PER_MS, NANOS_PER_SEC,
};
