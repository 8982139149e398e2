//! The validated description of one experiment.
//!
//! These types are what the models run on. They are built by the experiment loader
//! (in the `kinesim` crate), which rejects every invalid value with a message naming
//! the file and key; by the time a spec reaches a model, every field is within the
//! bounds documented on it, so model code does not fail. Times are `SimDuration`,
//! sizes are bytes, rates are per second.

use kinesim_sim::SimDuration;

/// 1 MiB; KDS quotas written "MB" are read as MiB (reference `kinesis-facts.md` §0).
pub const MIB: u64 = 1024 * 1024;

/// Everything one run needs.
#[derive(Clone, Debug)]
pub struct ExperimentSpec {
    pub name: String,
    pub seed: u64,
    pub duration: SimDuration,
    /// Absolute start as Unix seconds, for diurnal phases and traces; 0 when absent.
    pub start_unix_s: i64,
    /// How the data plane moves records: in batches per step, or one by one.
    pub fidelity: Fidelity,
    /// Data-plane step; divides one second exactly.
    pub step: SimDuration,
    /// Quiet shards coast this long at a time (`coast`; `engine/coast.rs`); `None`:
    /// every shard is stepped.
    pub coast_window: Option<SimDuration>,
    /// One `stream.csv` row per period; a whole number of steps.
    pub metrics_period: SimDuration,
    pub output: OutputSpec,
    pub stream: StreamSpec,
    /// What the run is billed at (`[pricing]`).
    pub cost: CostSpec,
    pub producers: Vec<ProducerSpec>,
    pub consumers: Vec<ConsumerSpec>,
    /// Scheduled control-plane actions, sorted by time.
    pub actions: Vec<ActionSpec>,
    /// The scaling policy, if any (`[policy]`); absent, the shard count changes only by actions.
    pub policy: Option<crate::policy::PolicySpec>,
    /// Service-level objectives checked after the run (`[[expect]]`).
    pub expectations: Vec<crate::slo::Expectation>,
}

/// How the data plane moves records (`fidelity`, DESIGN "The engine").
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Fidelity {
    /// Per step and shard, a record count and a byte total (the default).
    #[default]
    Stepped,
    /// Every record on its own, with its own key, size, arrival time and retry timing
    /// (`engine/record.rs`); the rest of the run (control plane, reads, metrics) is the
    /// stepped engine's.
    Record,
}

impl Fidelity {
    pub fn name(self) -> &'static str {
        match self {
            Fidelity::Stepped => "stepped",
            Fidelity::Record => "record",
        }
    }
}

/// What a run is billed at (`[pricing]`; arithmetic in [`crate::cost`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CostSpec {
    pub prices: crate::cost::PriceTable,
    pub billing: crate::cost::Billing,
    /// Applications (credential sets) calling KMS, for a stream with server-side
    /// encryption (`stream.encryption = "kms"`); 0 when it is not encrypted.
    pub kms_credential_sets: u32,
}

impl Default for CostSpec {
    fn default() -> Self {
        CostSpec {
            prices: crate::cost::PriceTable::us_east_1(),
            billing: crate::cost::Billing::default(),
            kms_credential_sets: 0,
        }
    }
}

/// KMS calls per 5 minutes per stream and credential set when reading at the tip
/// (reference/kinesis-facts.md §10.1: about 12).
pub const KMS_REQUESTS_PER_5_MIN: u64 = 12;

/// A control-plane change at a given time (`[[actions]]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionSpec {
    pub at: SimDuration,
    pub kind: ActionKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    /// SplitShard: the shard closes (no more writes, readable until its data expires)
    /// and two children take its hash range, with the next unused shard ids (§1.3, §6.1).
    SplitShard { shard: crate::routing::ShardId, at_key: SplitAt },
    /// MergeShards: two adjacent open shards close and one child takes their union.
    MergeShards { shard: crate::routing::ShardId, adjacent: crate::routing::ShardId },
    /// UpdateShardCount (UNIFORM_SCALING): the open shards close and `target` children
    /// take even ranges, within AWS's rules (at most double, at least half, 10 calls per
    /// rolling 24 h, reference §6.2); a call that breaks them is rejected and logged.
    UpdateShardCount { target: u32 },
    /// Increase/DecreaseStreamRetentionPeriod: a decrease trims older records at once; an
    /// increase keeps records from then on (already trimmed ones are gone) (reference §5).
    SetRetention { retention: SimDuration },
    /// A producer stops sending for `length`; the records it makes meanwhile are sent
    /// afterwards at `catch_up_rate` records/s on top of its live traffic.
    ProducerOutage { producer: String, length: SimDuration, catch_up_rate: f64 },
    /// UpdateStreamMode: the stream is `UPDATING` for `stream.reshard_duration`, keeps its
    /// shards, and from then on AWS (on-demand) or you (provisioned) manage them; at most
    /// twice per rolling 24 h (§7.1).
    SetMode { mode: CapacityMode },
    /// UpdateStreamWarmThroughput (On-demand Advantage only): after
    /// `stream.on_demand.warm_duration` the stream has one open shard per MiB/s (§7.2).
    WarmThroughput { mibps: u32 },
}

/// UpdateShardCount calls per stream per rolling 24 h (reference §6.2).
pub const UPDATE_SHARD_COUNT_PER_DAY: usize = 10;

/// Where a split divides its shard's hash range.
#[derive(Clone, Debug, PartialEq)]
pub enum SplitAt {
    /// `(start + end) / 2`, the developer guide's example.
    Midpoint,
    /// The hash key that best halves the shard's current load (the hot-shard view's key).
    Balanced,
    /// An explicit NewStartingHashKey.
    Key(u128),
}

/// What the run writes besides the stream-level rows.
#[derive(Clone, Debug)]
pub struct OutputSpec {
    /// Period of `shards.csv` rows, or `None` for off. A whole number of steps.
    pub shards_period: Option<SimDuration>,
    /// Period of `consumers.csv` rows, or `None` for off. A whole number of steps.
    pub consumers_period: Option<SimDuration>,
    /// How many keys per shard `hot_keys.csv` lists.
    pub hot_keys_per_shard: usize,
}

/// Who decides the shard count (reference/kinesis-facts.md §7).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CapacityMode {
    /// You do: resharding calls and scaling policies.
    Provisioned,
    /// AWS does, splitting shards as traffic grows ([`crate::on_demand`]).
    OnDemand,
    /// On-demand in an account with the minimum throughput commitment: warm throughput
    /// may be set (§7.2). Priced differently; the controller is the same.
    OnDemandAdvantage,
}

impl CapacityMode {
    pub fn name(self) -> &'static str {
        match self {
            CapacityMode::Provisioned => "provisioned",
            CapacityMode::OnDemand => "on_demand",
            CapacityMode::OnDemandAdvantage => "on_demand_advantage",
        }
    }

    pub fn is_on_demand(self) -> bool {
        self != CapacityMode::Provisioned
    }
}

/// Capacity mode switches per stream per rolling 24 h (UpdateStreamMode, §7.1).
pub const MODE_SWITCHES_PER_DAY: usize = 2;

#[derive(Clone, Debug)]
pub struct StreamSpec {
    pub mode: CapacityMode,
    /// Initial open shards, 1..=[`SHARDS_MAX`].
    pub shards: u32,
    /// 24 h to 8,760 h (§5).
    pub retention: SimDuration,
    /// Largest data blob plus key, 1 MiB to 10 MiB (§1.1, §7.3).
    pub max_record_size_bytes: u64,
    pub write_limit: WriteLimitSpec,
    pub read_limit: ReadLimitSpec,
    /// Time from the end of the step that stored a record until readers can see it.
    /// Assumption: AWS does not publish this; the developer guide gives ~200 ms average
    /// propagation for one polling consumer including its poll cadence (§3.2).
    pub propagation_delay: SimDuration,
    /// How long a split, merge or UpdateShardCount keeps the stream `UPDATING` before
    /// the children open; another reshard call meanwhile is refused
    /// (ResourceInUseException). Assumption, default 5 s: AWS publishes no duration;
    /// a real split took "a few seconds" (§6.1, source BRANDUR). Large UpdateShardCount calls
    /// take longer in practice: set this to what you observe.
    pub reshard_duration: SimDuration,
    /// The on-demand controller's parameters (used while the mode is on-demand).
    pub on_demand: crate::on_demand::OnDemandSpec,
}

/// The most shards a simulated stream may have open (a bound, not an AWS limit).
pub const SHARDS_MAX: u32 = 100_000;

/// Per-shard write admission (§1.1, §2.3).
#[derive(Clone, Debug)]
pub struct WriteLimitSpec {
    /// 1,000 records/s per shard.
    pub records_per_s: u64,
    /// 1 MiB/s per shard, partition key bytes included.
    pub bytes_per_s: u64,
    pub enforcement: Enforcement,
}

/// How the per-second limits are enforced. AWS does not publish the algorithm (§2.3),
/// so both readings are offered.
#[derive(Clone, Debug, PartialEq)]
pub enum Enforcement {
    /// Fixed, aligned one-second windows: each second admits up to the limit.
    FixedWindow,
    /// Token buckets refilled continuously at the limit, holding at most `depth` of
    /// one second's allowance (`depth_s = 1.0` is one second).
    TokenBucket { depth_s: f64 },
}

/// The shared GetRecords budget of one shard (§3, DESIGN "Consumers").
#[derive(Clone, Debug)]
pub struct ReadLimitSpec {
    /// Refill rate of the byte bucket: 2 MiB/s.
    pub bytes_per_s: u64,
    /// GetRecords calls per second per shard: 5, in fixed one-second windows.
    pub calls_per_s: u32,
    /// How far one call may drive the bucket below zero: 10 MiB, which yields the
    /// documented 5 s penalty after a 10 MiB read (§2.3). Assumption.
    pub overdraft_bytes: u64,
    /// The most the bucket holds above zero: 2 MiB, one second of refill. Assumption:
    /// AWS does not publish this. With it, a 10 MiB read from a full bucket is followed
    /// by 4 s of throttling (5 s from an empty one, the documented figure), and a lone
    /// poller calling once a second still reaches 2 MiB/s because the bucket saves the
    /// part of a second between the end of a penalty and its next call; with a depth of
    /// 0 it reaches about 1.8 MiB/s.
    pub depth_bytes: u64,
    /// Whether a throttled call uses one of the 5 calls. Assumption: no.
    pub throttled_calls_count: bool,
}

#[derive(Clone, Debug)]
pub struct ProducerSpec {
    pub name: String,
    pub rate: RateShape,
    /// Producer processes sharing `rate`; 1..=100,000.
    pub instances: u32,
    pub arrivals: Arrivals,
    pub record_size: SizeDistribution,
    pub keys: KeySpec,
    pub api: ApiSpec,
    pub retry: RetrySpec,
    /// A bounded client buffer and a limit on requests in flight; `None`: neither.
    pub back_pressure: Option<BackPressureSpec>,
}

/// Back-pressure in the client (see `backpressure`).
#[derive(Clone, Debug, PartialEq)]
pub struct BackPressureSpec {
    /// Records one instance holds at most: waiting to be sent or waiting for a retry.
    pub buffer_records: u64,
    pub when_full: WhenFull,
    /// Requests one instance has in flight at most.
    pub max_in_flight: u32,
    /// How long one PutRecord/PutRecords request takes. Assumption: AWS publishes no
    /// figure; tens of milliseconds is typical from inside the region.
    pub request_latency: SimDuration,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// The application waits: new records are delayed until there is room.
    Block,
    /// New records that do not fit are dropped (counted).
    Drop,
}

/// Offered records per second over time, in total across instances.
#[derive(Clone, Debug)]
pub enum RateShape {
    Constant(f64),
    /// Piecewise constant: `(from, rate)` sorted by time, the first at zero.
    Steps(Vec<(SimDuration, f64)>),
    /// Linear from `from` to `to` between `start` and `end`, constant outside.
    Ramp {
        from: f64,
        to: f64,
        start: SimDuration,
        end: SimDuration,
    },
    /// `mean * (1 + amplitude * cos(2*pi*(t - peak_at)/period))`, absolute time.
    Diurnal {
        mean: f64,
        amplitude: f64,
        period: SimDuration,
        peak_at: SimDuration,
    },
    /// `base`, raised to `peak` for `length` once every `every`, the first at `first`.
    Bursts {
        base: f64,
        peak: f64,
        every: SimDuration,
        length: SimDuration,
        first: SimDuration,
    },
    /// Piecewise constant from a CloudWatch export: one rate per `period`, starting
    /// at `offset` (the trace's first timestamp relative to the run start).
    Trace {
        period: SimDuration,
        offset: SimDuration,
        rates: Vec<f64>,
    },
}

/// How records arrive within a step.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// Independent arrivals: per-shard counts are Poisson (exact by Poisson splitting).
    Poisson,
    /// Evenly spaced arrivals: the total per step is the rate (fractions carried), split
    /// over shards by key as a multinomial.
    Uniform,
    /// Overdispersed: the rate is scaled by a Gamma variate of mean 1 and coefficient of
    /// variation `cv`, drawn afresh every `period` (whatever the step, so results do not
    /// depend on the step) and shared by all shards (a burst hits them all).
    Bursty { cv: f64, period: SimDuration },
}

/// Distribution of a record's data blob size in bytes (the key is added separately).
#[derive(Clone, Debug)]
pub enum SizeDistribution {
    Fixed(u64),
    Uniform {
        min: u64,
        max: u64,
    },
    /// Log-normal with the given median and log-space sigma, truncated to `[min, max]`.
    LogNormal {
        median: f64,
        sigma: f64,
        min: u64,
        max: u64,
    },
    /// `(size, weight)` pairs.
    Empirical(Vec<(u64, f64)>),
}

/// Partition key distributions.
#[derive(Clone, Debug)]
pub enum KeySpec {
    /// `count` named keys with equal weight.
    Uniform { names: KeyNames },
    /// `count` named keys, rank `r` (1-based) weighted `1 / r^exponent`.
    Zipf { names: KeyNames, exponent: f64 },
    /// The first `hot_count` named keys share `hot_share` of the traffic equally; the
    /// rest share the remainder equally.
    Hot { names: KeyNames, hot_count: u64, hot_share: f64 },
    /// A fresh random key per record (hash uniform over the space), `key_bytes` long.
    Random { key_bytes: u64 },
    /// Every record carries this explicit hash key; `partition_key` still counts bytes.
    Explicit { hash_key: u128, partition_key: String },
}

impl KeySpec {
    /// The longest partition key this distribution produces, in bytes.
    pub fn longest_key_bytes(&self) -> u64 {
        match self {
            KeySpec::Uniform { names } | KeySpec::Zipf { names, .. } | KeySpec::Hot { names, .. } => {
                let salt_last = (names.salt > 1).then_some(names.salt - 1);
                let salted = names.salted_name(names.salted.saturating_sub(1), salt_last).len();
                salted.max(names.name(names.count - 1).len()) as u64
            }
            KeySpec::Random { key_bytes } => *key_bytes,
            KeySpec::Explicit { partition_key, .. } => partition_key.len() as u64,
        }
    }
}

/// Named keys `{prefix}{index}`, index from `first`, in rank order.
#[derive(Clone, Debug)]
pub struct KeyNames {
    pub count: u64,
    pub prefix: String,
    pub first: u64,
    /// Salting: each of the `salted` most popular keys is spread evenly over `salt`
    /// keys `{name}-0` .. `{name}-{salt-1}` (1 = no salting). The usual fix for a hot key
    /// whose order does not matter across the salted keys.
    pub salt: u32,
    pub salted: u64,
}

/// Appends the decimal digits of `value` (what `{}` formats, without the formatting
/// machinery).
fn push_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
}

/// The most named keys a distribution may have (memory bound; use `random` beyond).
pub const NAMED_KEYS_MAX: u64 = 2_000_000;

impl KeyNames {
    pub fn name(&self, rank_index: u64) -> String {
        self.salted_name(rank_index, None)
    }

    /// The name of salt `salt_index` of a key (`None`: the key is not salted).
    pub fn salted_name(&self, rank_index: u64, salt_index: Option<u32>) -> String {
        let mut name = String::new();
        self.write_salted_name(&mut name, rank_index, salt_index);
        name
    }

    /// Writes [`KeyNames::salted_name`] into `out` (cleared first) without allocating
    /// once `out` is large enough: building the key tables names every key, up to
    /// millions of them.
    pub fn write_salted_name(&self, out: &mut String, rank_index: u64, salt_index: Option<u32>) {
        out.clear();
        out.push_str(&self.prefix);
        push_decimal(out, self.first + rank_index);
        if let Some(salt_index) = salt_index {
            out.push('-');
            push_decimal(out, u64::from(salt_index));
        }
    }

    /// Whether the key of this rank is spread over salts.
    pub fn is_salted(&self, rank_index: u64) -> bool {
        self.salt > 1 && rank_index < self.salted
    }
}

#[derive(Clone, Debug)]
pub enum ApiSpec {
    /// One record per request.
    PutRecord,
    /// Batches of up to `max_records` (<= 500) and `max_bytes` (<= 10 MiB) per request,
    /// sent when full or after `linger` (§2.1).
    PutRecords { max_records: u32, max_bytes: u64, linger: SimDuration },
    /// The Kinesis Producer Library (§8.4).
    Kpl(KplSpec),
}

/// KPL settings; defaults from `default_config.properties` (reference §8.4).
#[derive(Clone, Debug)]
pub struct KplSpec {
    /// AggregationEnabled: pack user records bound for one shard into one Kinesis record.
    pub aggregation: bool,
    /// AggregationMaxSize: 51,200 bytes.
    pub aggregation_max_bytes: u64,
    /// AggregationMaxCount: 4,294,967,295.
    pub aggregation_max_count: u64,
    /// CollectionMaxCount: Kinesis records per PutRecords, 500.
    pub collection_max_records: u32,
    /// CollectionMaxSize: bytes per PutRecords, 5,242,880.
    pub collection_max_bytes: u64,
    /// RecordMaxBufferedTime: 100 ms. Records wait up to this long to be aggregated.
    pub max_buffered_time: SimDuration,
    /// RecordTtl: 30 s. Records older than this when they would be sent expire.
    pub record_ttl: SimDuration,
    /// RateLimit: the client-side limiter per instance and shard, in percent of the
    /// shard's limits; 150.
    pub rate_limit_pct: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Jitter {
    Full,
    Equal,
    Decorrelated,
}

#[derive(Clone, Debug)]
pub enum RetrySpec {
    /// Rejected records are given up at once.
    None,
    /// Retry `n` (n >= 1) waits per `jitter` within `min(cap, base * 2^(n-1))`;
    /// `max_attempts` counts the first attempt.
    Exponential { base: SimDuration, cap: SimDuration, max_attempts: u32, jitter: Jitter },
    /// The AWS SDK standard mode: 3 attempts, full jitter, base 1 s, cap 20 s, and a
    /// retry quota of 500 tokens per client costing 5 per retry (§2.4).
    SdkStandard { max_attempts: u32 },
    /// The KPL's retry: no backoff; a failed record goes back to the buffer and is sent
    /// again after `delay` (RecordMaxBufferedTime / 2) until its `ttl` passes (§8.4).
    Kpl { delay: SimDuration, ttl: SimDuration },
}

/// The longest backoff cap accepted (bounds the retry wheel).
pub const RETRY_CAP_MAX: SimDuration = SimDuration(3_600 * 1_000_000_000);
/// The most attempts per record accepted.
pub const RETRY_ATTEMPTS_MAX: u32 = 100;

#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    pub name: String,
    pub start: StartPosition,
    /// When the consumer starts reading (0: from the run's start). A consumer joining
    /// later at `trim_horizon` backfills what the stream still holds.
    pub join: SimDuration,
    pub kind: ConsumerKind,
    /// What it does with fetched records; `None`: it keeps up with anything it fetches.
    pub processing: Option<ProcessingSpec>,
    /// A KCL application's workers and leases; `None` for a plain reader.
    pub kcl: Option<KclSpec>,
}

/// Batch processing of fetched records (see `consumer::processing`).
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessingSpec {
    /// Batches processed at once per shard: 1, or Lambda's parallelization factor.
    pub lanes: u32,
    /// Records per batch (Lambda's BatchSize; a poller's records per call).
    pub batch_size: u64,
    /// Bytes per batch at most (Firehose's buffer size); `None`: no byte limit.
    pub batch_bytes: Option<u64>,
    /// How long a batch waits to fill before it starts anyway (Lambda's
    /// MaximumBatchingWindowInSeconds, Firehose's buffer interval); 0: no wait.
    pub batching_window: SimDuration,
    /// Batch duration: `fixed + per_record * n`.
    pub fixed: SimDuration,
    pub per_record: SimDuration,
    /// Time from a batch's end until it is delivered (Firehose landing a buffer): it
    /// adds to the records' latency without holding the lane, so deliveries overlap.
    pub delivery: SimDuration,
    /// Records fetched ahead of processing per shard, at most.
    pub prefetch_records: u64,
    /// Probability that a batch fails.
    pub error_rate: f64,
    /// Fraction of records that fail every invocation carrying them (poison records).
    pub poison_rate: f64,
    /// Lambda's BisectBatchOnFunctionError: halve a failing batch to isolate poison.
    pub bisect_on_error: bool,
    /// Retries of a failed batch before it is discarded (`None`: until it succeeds or its
    /// records pass `max_record_age`).
    pub max_retry_attempts: Option<u32>,
    /// Records older than this are discarded unprocessed (`None`: no limit).
    pub max_record_age: Option<SimDuration>,
    /// Whether records waiting in a lane are also discarded once they pass the stream's
    /// retention: a Lambda event source mapping retries a failing batch "until the
    /// records expire" (facts §8.2); a KCL worker or Firehose processes what it holds.
    pub expires_with_retention: bool,
    /// Batches running at once over all shards and lanes (a Lambda function's reserved
    /// concurrency); `None`: shards x lanes, the mapping's own ceiling (§8.2).
    pub concurrency_max: Option<u32>,
    /// The capacity above is a KCL worker's, shared evenly by the shards it holds leases
    /// on and still has records for (so a worker that takes a dead one's leases
    /// processes each more slowly); otherwise it is per shard.
    pub shared_by_worker: bool,
}

/// Where a consumer's iterator starts (reference §3.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StartPosition {
    /// Only records written after the consumer starts.
    Latest,
    /// The oldest record still held.
    TrimHorizon,
    /// The first record that arrived at or after this time (from the run's start);
    /// older than the trim horizon behaves as `TrimHorizon`.
    AtTimestamp(SimDuration),
}

#[derive(Clone, Debug)]
pub enum ConsumerKind {
    Polling(PollingSpec),
    /// Enhanced fan-out (§4): its own 2 MiB/s per shard, pushed over HTTP/2.
    Efo(EfoSpec),
}

/// A KCL application (see `consumer::kcl`); its retrieval is polling or fan-out.
#[derive(Clone, Debug, PartialEq)]
pub struct KclSpec {
    /// 1, 2 or 3; sets the retrieval and idle-time defaults (reference §8.1).
    pub version: u32,
    pub workers: u32,
    /// failoverTimeMillis: 10 s.
    pub failover_time: SimDuration,
    /// How often the application checkpoints its position per shard.
    pub checkpoint_interval: SimDuration,
    /// Scheduled worker failures: (time, worker index from 0).
    pub failures: Vec<(SimDuration, u32)>,
    /// Scheduled worker joins: each adds a worker (numbered after the initial ones).
    pub joins: Vec<SimDuration>,
}

/// An enhanced fan-out consumer (SubscribeToShard).
#[derive(Clone, Debug)]
pub struct EfoSpec {
    /// Delay from a record becoming readable to its push reaching the consumer. The
    /// developer guide gives ~70 ms average propagation for fan-out (§3.2); here the
    /// stream's propagation delay already covers part of it. Assumption: 20 ms.
    pub push_latency: SimDuration,
}

/// Throughput of one fan-out consumer on one shard: 2 MiB/s (§4).
pub const EFO_BYTES_PER_S: u64 = 2 * MIB;
/// Fan-out consumers per stream: 20 (50 on On-demand Advantage) (§4).
pub const EFO_CONSUMERS_MAX: usize = 20;

/// Enhanced fan-out consumers per stream on On-demand Advantage (§7.2).
pub const EFO_CONSUMERS_MAX_ADVANTAGE: usize = 50;

/// A GetRecords poller sharing the shard's read budget (§3).
#[derive(Clone, Debug)]
pub struct PollingSpec {
    /// Time between calls to one shard: 1 s by default (§3 "Recommended cadence").
    pub poll_interval: SimDuration,
    /// Extra random delay per call, uniform in `[0, poll_jitter]` (default 200 ms),
    /// standing for processing time and call latency. It keeps identical pollers from
    /// locking step: with too little of it, whichever poller happens to call first after
    /// the read budget recovers wins every time. Assumption: real pollers vary by at
    /// least this much.
    pub poll_jitter: SimDuration,
    /// Records per call, 1..=10,000.
    pub max_records: u32,
    /// Bytes per call, up to 10 MiB.
    pub max_bytes: u64,
}
