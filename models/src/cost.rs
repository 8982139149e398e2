//! What a stream costs: a price table, the usage a run measured, and the charges that
//! follow from them.
//!
//! Lifecycle: the engine fills one [`Usage`] per hour of simulated time (or per part of
//! an hour at the end of a run) with plain sums, calls [`charges`] on it to get that
//! hour's rows of `cost.csv`, and adds the hours up with [`Usage::add`] for the run's
//! totals. This module is pure arithmetic over integers and `f64`: it reads no file and
//! cannot fail; a price table for another region is loaded by the `kinesim` crate and
//! arrives here as a [`PriceTable`] already checked (finite, non-negative rates).
//!
//! Sources: "pricing §N" is a section of `reference/kinesis-pricing.md`, "facts §N" one of
//! `reference/kinesis-facts.md`. Choices the references leave open are written down where
//! they are made:
//!
//! * A billed "GB" is 2^30 bytes ([`BYTES_PER_GB`]), a "KB" 1,024 bytes.
//! * Time-based dimensions (shard-hours, extended retention, fan-out consumer-shard-hours,
//!   on-demand stream-hours) are pro-rated by the time measured, or billed per started
//!   hour: [`Proration`], a [`Billing`] option.
//! * The On-demand Advantage commitment is an account's, not a stream's: its shortfall is
//!   computed from the stream's traffic plus the account's other on-demand traffic (a
//!   [`Billing`] option) and reported as components apart from the stream's total
//!   ([`Component::is_reported_apart`]).
//!
//! Usage counts time in nanoseconds, the kernel's clock unit, and multiplies it by shard
//! or byte counts in `u128`: integer sums are exact and associative, so the same usage
//! summed in another order (per partition, per thread) gives the same charges bit for bit.

use crate::spec::CapacityMode;

/// Bytes in a billed gigabyte: 2^30, a GiB. The AWS Pricing Calculator converts KB to GB
/// by dividing by 1,024 twice (pricing §6) and the cost formulas of pricing §9 divide by
/// 2^30. Were AWS to bill 10^9-byte GB, every per-GB charge would be 7.4 % higher.
pub const BYTES_PER_GB: u64 = 1 << 30;

/// A PUT payload unit: 25 KB of a record, with KB = 1,024 bytes: 25,600 bytes, the divisor
/// of pricing §9 and of the Pricing Calculator (pricing §2.1). Pricing §2.1 also says that
/// this makes a 1 MiB record exactly 40 units, as the old page's "1 MB = 40 units"; it does
/// not: 1,048,576 / 25,600 = 40.96, so a 1 MiB record is 41 units here. The page's 40 fits a
/// "1 MB" of 1,000 KB (1,024,000 bytes), or 25,000-byte units with 10^6-byte MB; which one
/// AWS meters is not settled by the references.
pub const PUT_PAYLOAD_UNIT_BYTES: u64 = 25 * 1024;

/// On-demand ingest rounds each record up to a whole 1 KB = 1,024 bytes (pricing §3.1).
pub const ON_DEMAND_ROUNDING_BYTES: u64 = 1024;

/// Hours in a month: 730, as the AWS Pricing Calculator and infracost count (pricing §6).
/// Used to turn byte-hours into GB-months and hourly costs into [`monthly_projection_usd`].
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Retention up to this age is included in every mode; beyond it, extended retention.
pub const RETENTION_INCLUDED_HOURS: u64 = 24;
/// Data older than this is in long-term retention (pricing §2, §3).
pub const RETENTION_EXTENDED_MAX_HOURS: u64 = 7 * 24;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_HOUR: f64 = 3_600.0 * NANOS_PER_SEC as f64;

/// Kinesis Data Streams rates in USD for one region, with the terms of the On-demand
/// Advantage commitment. Rates are finite and `>= 0`; the loader of user price files
/// checks this, [`PriceTable::us_east_1`] holds by construction.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    /// The region these prices are for, as AWS names it (`us-east-1`). Informational: it
    /// is written to outputs, not used in any formula.
    pub region: String,

    // Provisioned mode (pricing §2).
    /// Per shard-hour of an open provisioned shard: $0.015 (pricing §2; Price List via
    /// infracost, AWS reply, third party agree).
    pub shard_hour_usd: f64,
    /// Per million 25 KB PUT payload units: $0.014 (pricing §2, Price List).
    pub put_payload_units_per_million_usd: f64,
    /// Per shard-hour, for every shard, while retention is above 24 h: $0.020 (pricing §2,
    /// Price List `Extended-ShardHour`, effective 2023-06-01).
    pub extended_retention_shard_hour_usd: f64,
    /// Per GB-month of data older than 7 days (provisioned): $0.023 (pricing §2, Price
    /// List `LongTermRetention-ByteHrs`).
    pub long_term_retention_gb_month_usd: f64,
    /// Per GB read that is older than 7 days (provisioned): $0.021 (pricing §2, Price
    /// List). Unverified against the pricing page itself (pricing §10 item 2).
    pub long_term_retrieval_gb_usd: f64,
    /// Per fan-out consumer × shard × hour (provisioned): $0.015 (pricing §2, Price List
    /// `EnhancedFanoutHour`).
    pub efo_consumer_shard_hour_usd: f64,
    /// Per GB delivered to fan-out consumers (provisioned): $0.013 (pricing §2, Price List).
    pub efo_data_gb_usd: f64,

    // On-demand Standard (pricing §3).
    /// Per hour of each on-demand stream: $0.04 (pricing §3; Price List, AWS blog).
    pub on_demand_stream_hour_usd: f64,
    /// Per GB written, each record rounded up to 1 KB: $0.08 (pricing §3; Price List, AWS
    /// blog).
    pub on_demand_data_in_gb_usd: f64,
    /// Per GB read by GetRecords, per consumer application: $0.04 (pricing §3; Price List,
    /// third party).
    pub on_demand_data_out_gb_usd: f64,
    /// Per GB delivered to fan-out consumers, with no consumer-shard-hour charge: $0.05
    /// (pricing §3; Price List, AWS blog).
    pub on_demand_efo_data_gb_usd: f64,
    /// Per GB-month of data aged 24 h to 7 days: $0.10 (pricing §3; Price List, AWS blog).
    pub on_demand_extended_retention_gb_month_usd: f64,
    /// Per GB-month of data older than 7 days: $0.023 (pricing §3, Price List).
    pub on_demand_long_term_retention_gb_month_usd: f64,

    // On-demand Advantage (pricing §4). No stream-hour charge.
    /// Per GB written: $0.032 (pricing §4, AWS blog post 2).
    pub advantage_data_in_gb_usd: f64,
    /// Per GB read by GetRecords, per consumer application: $0.016 (pricing §4; AWS blog
    /// post 1 gives "60 % lower" than $0.04, the figure itself is a third-party price-list
    /// note).
    pub advantage_data_out_gb_usd: f64,
    /// Per GB delivered to fan-out consumers: $0.016, as standard reads (pricing §4, AWS
    /// blog post 2).
    pub advantage_efo_data_gb_usd: f64,
    /// Per GB-month of data aged 24 h to 7 days: $0.023 (pricing §4, AWS blog post 2:
    /// "beyond 24 hours, up to 365 days").
    pub advantage_extended_retention_gb_month_usd: f64,
    /// Per GB-month of data older than 7 days: $0.023 (pricing §4; AWS blog post 2 covers
    /// it with the same sentence, the separate line is a third-party price-list note).
    pub advantage_long_term_retention_gb_month_usd: f64,
    /// The commitment's ingest floor, bytes per second summed over the account's on-demand
    /// streams in the region: 25 MiB/s (pricing §4, AWS developer guide; the FAQ writes
    /// "25MB/s"; facts §7.2 did not find the level at all).
    pub advantage_commitment_in_bytes_per_s: u64,
    /// The commitment's retrieval floor, bytes per second, standard and fan-out reads
    /// together (pricing §4; counting fan-out reads is pricing §9's assumption): 25 MiB/s.
    pub advantage_commitment_out_bytes_per_s: u64,

    // Encryption (facts §10.1).
    /// Per 10,000 KMS requests made for server-side encryption: $0.03 (facts §10.1, third
    /// party only: unverified). The 20,000 free requests a month are the account's and
    /// are not deducted; the $1 monthly fee of a customer-managed key is not modelled.
    pub kms_requests_per_10k_usd: f64,
}

impl PriceTable {
    /// The built-in table: US East (N. Virginia), the rates of pricing §2–§4 and facts §10.1.
    pub fn us_east_1() -> PriceTable {
        PriceTable {
            region: "us-east-1".to_string(),
            shard_hour_usd: 0.015,
            put_payload_units_per_million_usd: 0.014,
            extended_retention_shard_hour_usd: 0.020,
            long_term_retention_gb_month_usd: 0.023,
            long_term_retrieval_gb_usd: 0.021,
            efo_consumer_shard_hour_usd: 0.015,
            efo_data_gb_usd: 0.013,
            on_demand_stream_hour_usd: 0.04,
            on_demand_data_in_gb_usd: 0.08,
            on_demand_data_out_gb_usd: 0.04,
            on_demand_efo_data_gb_usd: 0.05,
            on_demand_extended_retention_gb_month_usd: 0.10,
            on_demand_long_term_retention_gb_month_usd: 0.023,
            advantage_data_in_gb_usd: 0.032,
            advantage_data_out_gb_usd: 0.016,
            advantage_efo_data_gb_usd: 0.016,
            advantage_extended_retention_gb_month_usd: 0.023,
            advantage_long_term_retention_gb_month_usd: 0.023,
            advantage_commitment_in_bytes_per_s: 25 * 1024 * 1024,
            advantage_commitment_out_bytes_per_s: 25 * 1024 * 1024,
            kms_requests_per_10k_usd: 0.03,
        }
    }
}

/// How a time-based dimension (shard-hours, extended retention shard-hours, fan-out
/// consumer-shard-hours, on-demand stream-hours) turns measured time into billed hours.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Proration {
    /// By the time measured, to the nanosecond: a shard open 90 s is 90/3,600 of a
    /// shard-hour. AWS says shard-hours are pro-rated; DESIGN.md takes per second.
    #[default]
    PerSecond,
    /// Every started clock hour in full: a shard open 90 s is one shard-hour. Uses the
    /// `*_hours_started` counts of [`Usage`]: an upper bound, for comparison.
    PerStartedHour,
}

/// Billing options that are not prices: how time is pro-rated, and the account's other
/// on-demand traffic, which decides whether the Advantage commitment falls short.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Billing {
    pub proration: Proration,
    /// Ingest of the account's other on-demand streams in the region, billed bytes per
    /// second (each record rounded up to 1 KB), while the commitment is in effect. 0 when
    /// the simulated stream is the account's only one.
    pub advantage_other_in_bytes_per_s: u64,
    /// Retrieval of the account's other on-demand streams, bytes per second, standard and
    /// fan-out reads of every consumer application together.
    pub advantage_other_out_bytes_per_s: u64,
}

/// PUT payload units of one record of `record_bytes`: one per started 25 KB, at least one
/// (pricing §2.1: 5 KB is 1 unit, 45 KB is 2, 1,000 KB is 40, a full MiB 41). Counted per
/// record, never per request: batching records into one PutRecords call does not reduce
/// the count, packing user records into one aggregated KPL record does, so a KPL record
/// is one record here.
///
/// `record_bytes` is the record's size as Kinesis counts it against its limits: the data
/// blob (before base64) plus the partition key (facts §1.1). The pricing pages say only
/// "record size"; that it is the same size is an inference. An explicit hash key is not
/// counted. A record of 0 bytes cannot exist (the partition key has at least one
/// character) and is taken as the smallest record, one unit.
pub fn put_payload_units(record_bytes: u64) -> u64 {
    record_bytes.div_ceil(PUT_PAYLOAD_UNIT_BYTES).max(1)
}

/// On-demand billed ingest of one record of `record_bytes` (data blob plus partition key,
/// as in [`put_payload_units`]): rounded up to a whole 1,024 bytes, at least 1,024
/// (pricing §3.1: a 4.5 KB record counts as 5 KB). Advantage is taken to meter ingest the
/// same way (an inference: AWS states the rounding for on-demand without naming the
/// tier). Reads are not rounded (pricing §3.1, likely but not confirmed by AWS).
pub fn on_demand_billed_bytes(record_bytes: u64) -> u64 {
    record_bytes.div_ceil(ON_DEMAND_ROUNDING_BYTES).max(1) * ON_DEMAND_ROUNDING_BYTES
}

/// What one stream used over one interval of simulated time. Every field is a sum, so
/// usage of consecutive intervals adds up field by field ([`Usage::add`]). Fields of a
/// mode the stream was not in during the interval stay 0: the engine adds to the fields
/// of the mode it is in at each step, so a mode switch inside an hour splits its usage.
///
/// Time is in nanoseconds; `*_ns` fields of `u128` are a count times nanoseconds (shard
/// nanoseconds, byte nanoseconds). "Stored" bytes are those held by the stream's shards
/// (open and closed), counted once however many consumers read them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Simulated time the usage covers, ns.
    pub interval_ns: u64,

    // Provisioned mode.
    /// Open shards × time open, shard-ns.
    pub shard_ns: u128,
    /// Shard × clock-hour pairs in which the shard was open at some instant; each pair is
    /// counted once, in the interval holding its first open instant. For
    /// [`Proration::PerStartedHour`].
    pub shard_hours_started: u64,
    /// The part of `shard_ns` during which retention was above 24 h, shard-ns.
    pub extended_retention_shard_ns: u128,
    /// The pairs of `shard_hours_started` with retention above 24 h at some instant.
    pub extended_retention_shard_hours_started: u64,
    /// PUT payload units of the records accepted: Σ [`put_payload_units`] per record, units.
    /// Throttled attempts are not billed.
    pub put_payload_units: u64,
    /// Stored bytes older than 7 days × time, byte-ns.
    pub long_term_stored_byte_ns: u128,
    /// Bytes read that were older than 7 days when read, every consumer application's
    /// reads counted, bytes.
    pub long_term_retrieval_bytes: u64,
    /// Registered fan-out consumers × open shards × time, consumer-shard-ns.
    pub efo_consumer_shard_ns: u128,
    /// Consumer × shard × clock-hour triples with the consumer registered and the shard
    /// open at some instant, counted once (as `shard_hours_started`).
    pub efo_consumer_shard_hours_started: u64,
    /// Bytes delivered to fan-out consumers, summed over consumers, bytes.
    pub efo_bytes: u64,

    // On-demand Standard.
    /// Time the stream spent in on-demand Standard mode, stream-ns.
    pub on_demand_stream_ns: u128,
    /// Clock hours in which the stream was in on-demand Standard mode at some instant,
    /// counted once (as `shard_hours_started`).
    pub on_demand_stream_hours_started: u64,
    /// Σ [`on_demand_billed_bytes`] over accepted records, bytes.
    pub on_demand_billed_bytes_in: u64,
    /// Bytes returned by GetRecords, summed over consumer applications (each pays for its
    /// own reads, pricing §3.1), not rounded, bytes.
    pub on_demand_bytes_out: u64,
    /// Bytes delivered to fan-out consumers, summed over consumers, bytes.
    pub on_demand_efo_bytes: u64,
    /// Stored bytes aged 24 h to 7 days × time, byte-ns.
    pub on_demand_extended_stored_byte_ns: u128,
    /// Stored bytes older than 7 days × time, byte-ns.
    pub on_demand_long_term_stored_byte_ns: u128,

    // On-demand Advantage.
    /// Time the stream spent in On-demand Advantage mode, over which the account's
    /// commitment floor accrues, ns.
    pub advantage_commitment_ns: u64,
    /// Σ [`on_demand_billed_bytes`] over accepted records, bytes.
    pub advantage_billed_bytes_in: u64,
    /// Bytes returned by GetRecords, summed over consumer applications, bytes.
    pub advantage_bytes_out: u64,
    /// Bytes delivered to fan-out consumers, summed over consumers, bytes.
    pub advantage_efo_bytes: u64,
    /// Stored bytes aged 24 h to 7 days × time, byte-ns.
    pub advantage_extended_stored_byte_ns: u128,
    /// Stored bytes older than 7 days × time, byte-ns.
    pub advantage_long_term_stored_byte_ns: u128,

    // Every mode.
    /// KMS API requests made for server-side encryption, requests.
    pub kms_requests: u64,
}

impl Usage {
    /// Adds the usage of another interval of the same stream, field by field.
    pub fn add(&mut self, other: &Usage) {
        // Destructured so that a new field cannot be forgotten here.
        let Usage {
            interval_ns,
            shard_ns,
            shard_hours_started,
            extended_retention_shard_ns,
            extended_retention_shard_hours_started,
            put_payload_units,
            long_term_stored_byte_ns,
            long_term_retrieval_bytes,
            efo_consumer_shard_ns,
            efo_consumer_shard_hours_started,
            efo_bytes,
            on_demand_stream_ns,
            on_demand_stream_hours_started,
            on_demand_billed_bytes_in,
            on_demand_bytes_out,
            on_demand_efo_bytes,
            on_demand_extended_stored_byte_ns,
            on_demand_long_term_stored_byte_ns,
            advantage_commitment_ns,
            advantage_billed_bytes_in,
            advantage_bytes_out,
            advantage_efo_bytes,
            advantage_extended_stored_byte_ns,
            advantage_long_term_stored_byte_ns,
            kms_requests,
        } = *other;
        self.interval_ns += interval_ns;
        self.shard_ns += shard_ns;
        self.shard_hours_started += shard_hours_started;
        self.extended_retention_shard_ns += extended_retention_shard_ns;
        self.extended_retention_shard_hours_started += extended_retention_shard_hours_started;
        self.put_payload_units += put_payload_units;
        self.long_term_stored_byte_ns += long_term_stored_byte_ns;
        self.long_term_retrieval_bytes += long_term_retrieval_bytes;
        self.efo_consumer_shard_ns += efo_consumer_shard_ns;
        self.efo_consumer_shard_hours_started += efo_consumer_shard_hours_started;
        self.efo_bytes += efo_bytes;
        self.on_demand_stream_ns += on_demand_stream_ns;
        self.on_demand_stream_hours_started += on_demand_stream_hours_started;
        self.on_demand_billed_bytes_in += on_demand_billed_bytes_in;
        self.on_demand_bytes_out += on_demand_bytes_out;
        self.on_demand_efo_bytes += on_demand_efo_bytes;
        self.on_demand_extended_stored_byte_ns += on_demand_extended_stored_byte_ns;
        self.on_demand_long_term_stored_byte_ns += on_demand_long_term_stored_byte_ns;
        self.advantage_commitment_ns += advantage_commitment_ns;
        self.advantage_billed_bytes_in += advantage_billed_bytes_in;
        self.advantage_bytes_out += advantage_bytes_out;
        self.advantage_efo_bytes += advantage_efo_bytes;
        self.advantage_extended_stored_byte_ns += advantage_extended_stored_byte_ns;
        self.advantage_long_term_stored_byte_ns += advantage_long_term_stored_byte_ns;
        self.kms_requests += kms_requests;
    }

    /// Adds `records` accepted records of `record_bytes` each (data blob plus partition
    /// key) written while the stream was in `mode`, to the write dimension of that mode.
    pub fn add_writes(&mut self, mode: CapacityMode, record_bytes: u64, records: u64) {
        match mode {
            CapacityMode::Provisioned => self.put_payload_units += put_payload_units(record_bytes) * records,
            CapacityMode::OnDemand => self.on_demand_billed_bytes_in += on_demand_billed_bytes(record_bytes) * records,
            CapacityMode::OnDemandAdvantage => {
                self.advantage_billed_bytes_in += on_demand_billed_bytes(record_bytes) * records
            }
        }
    }

    /// Adds writes already counted in billing units: PUT payload units when provisioned,
    /// billed bytes in the on-demand modes.
    pub fn add_billed_writes(&mut self, mode: CapacityMode, billed: u64) {
        match mode {
            CapacityMode::Provisioned => self.put_payload_units += billed,
            CapacityMode::OnDemand => self.on_demand_billed_bytes_in += billed,
            CapacityMode::OnDemandAdvantage => self.advantage_billed_bytes_in += billed,
        }
    }

    /// Adds `bytes` delivered to one consumer application while the stream was in `mode`,
    /// by fan-out (`fan_out`) or by GetRecords. Provisioned GetRecords reads are free
    /// (pricing §1) and add nothing; reads of data older than 7 days are added to
    /// `long_term_retrieval_bytes` by the caller, as well.
    pub fn add_reads(&mut self, mode: CapacityMode, fan_out: bool, bytes: u64) {
        let field = match (mode, fan_out) {
            (CapacityMode::Provisioned, false) => return,
            (CapacityMode::Provisioned, true) => &mut self.efo_bytes,
            (CapacityMode::OnDemand, false) => &mut self.on_demand_bytes_out,
            (CapacityMode::OnDemand, true) => &mut self.on_demand_efo_bytes,
            (CapacityMode::OnDemandAdvantage, false) => &mut self.advantage_bytes_out,
            (CapacityMode::OnDemandAdvantage, true) => &mut self.advantage_efo_bytes,
        };
        *field += bytes;
    }
}

/// A billing dimension: a row of `cost.csv`. Names are a contract (DESIGN.md, outputs).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    ShardHours,
    PutPayloadUnits,
    ExtendedRetention,
    LongTermRetention,
    LongTermRetrieval,
    EfoConsumerShardHours,
    EfoData,
    OnDemandStreamHours,
    OnDemandDataIn,
    OnDemandDataOut,
    OnDemandEfoData,
    OnDemandExtendedRetention,
    OnDemandLongTermRetention,
    AdvantageDataIn,
    AdvantageDataOut,
    AdvantageEfoData,
    AdvantageRetention,
    KmsRequests,
    AdvantageShortfallIn,
    AdvantageShortfallOut,
}

impl Component {
    /// Every component, in the order of `cost.csv` and of [`charges`].
    pub const ALL: [Component; 20] = [
        Component::ShardHours,
        Component::PutPayloadUnits,
        Component::ExtendedRetention,
        Component::LongTermRetention,
        Component::LongTermRetrieval,
        Component::EfoConsumerShardHours,
        Component::EfoData,
        Component::OnDemandStreamHours,
        Component::OnDemandDataIn,
        Component::OnDemandDataOut,
        Component::OnDemandEfoData,
        Component::OnDemandExtendedRetention,
        Component::OnDemandLongTermRetention,
        Component::AdvantageDataIn,
        Component::AdvantageDataOut,
        Component::AdvantageEfoData,
        Component::AdvantageRetention,
        Component::KmsRequests,
        Component::AdvantageShortfallIn,
        Component::AdvantageShortfallOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Component::ShardHours => "shard_hours",
            Component::PutPayloadUnits => "put_payload_units",
            Component::ExtendedRetention => "extended_retention",
            Component::LongTermRetention => "long_term_retention",
            Component::LongTermRetrieval => "long_term_retrieval",
            Component::EfoConsumerShardHours => "efo_consumer_shard_hours",
            Component::EfoData => "efo_data",
            Component::OnDemandStreamHours => "on_demand_stream_hours",
            Component::OnDemandDataIn => "on_demand_data_in",
            Component::OnDemandDataOut => "on_demand_data_out",
            Component::OnDemandEfoData => "on_demand_efo_data",
            Component::OnDemandExtendedRetention => "on_demand_extended_retention",
            Component::OnDemandLongTermRetention => "on_demand_long_term_retention",
            Component::AdvantageDataIn => "advantage_data_in",
            Component::AdvantageDataOut => "advantage_data_out",
            Component::AdvantageEfoData => "advantage_efo_data",
            Component::AdvantageRetention => "advantage_retention",
            Component::KmsRequests => "kms_requests",
            Component::AdvantageShortfallIn => "advantage_shortfall_in",
            Component::AdvantageShortfallOut => "advantage_shortfall_out",
        }
    }

    /// Whether the charge is the account's rather than the stream's: the Advantage
    /// commitment shortfall, reported apart from the stream's total (DESIGN.md, Cost).
    pub fn is_reported_apart(self) -> bool {
        matches!(self, Component::AdvantageShortfallIn | Component::AdvantageShortfallOut)
    }
}

/// The cost of one component over one interval.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Charge {
    pub component: Component,
    pub usd: f64,
}

/// What the Advantage commitment adds over an interval: the bytes by which the account's
/// ingest and retrieval fell short of the floor, billed at the Advantage rates.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct AdvantageShortfall {
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The commitment shortfall over the interval of `usage` (pricing §4, §9): the floor is
/// the commitment rate × the time the commitment was in effect
/// (`advantage_commitment_ns`); against it count the stream's billed ingest (retrieval:
/// standard plus fan-out reads) and the account's other traffic of `billing` over the same
/// time. AWS does not say over which window the floor is measured; pricing §9 applies it
/// to the billing period, so evaluate the whole run's summed usage for a monthly figure.
/// Evaluated hour by hour, a quiet hour's shortfall is not offset by a busy hour's excess,
/// so hourly rows add up to at least the whole run's figure.
pub fn advantage_shortfall(prices: &PriceTable, billing: &Billing, usage: &Usage) -> AdvantageShortfall {
    let over_commitment = |bytes_per_s: u64| -> u128 {
        u128::from(bytes_per_s) * u128::from(usage.advantage_commitment_ns) / u128::from(NANOS_PER_SEC)
    };
    let floor_in = over_commitment(prices.advantage_commitment_in_bytes_per_s);
    let floor_out = over_commitment(prices.advantage_commitment_out_bytes_per_s);
    let actual_in =
        u128::from(usage.advantage_billed_bytes_in) + over_commitment(billing.advantage_other_in_bytes_per_s);
    let actual_out = u128::from(usage.advantage_bytes_out)
        + u128::from(usage.advantage_efo_bytes)
        + over_commitment(billing.advantage_other_out_bytes_per_s);
    // A floor fits in u64 bytes for any run below 22 years at 25 MiB/s.
    let clamp = |bytes: u128| u64::try_from(bytes).unwrap_or(u64::MAX);
    AdvantageShortfall {
        bytes_in: clamp(floor_in.saturating_sub(actual_in)),
        bytes_out: clamp(floor_out.saturating_sub(actual_out)),
    }
}

/// The charges of `usage` at `prices`, one per component in [`Component::ALL`] order,
/// components of $0 omitted. The stream's total is the sum of the charges not
/// [`Component::is_reported_apart`] ([`stream_total_usd`]).
///
/// Rules: shard-hours, extended retention shard-hours (a flat rate for every shard while
/// retention is above 24 h, on top of any long-term charge), fan-out consumer-shard-hours
/// and on-demand stream-hours follow `billing.proration`; bytes are billed per GB of 2^30
/// bytes; stored byte-time per GB-month of [`HOURS_PER_MONTH`]. Provisioned data aged 24 h
/// to 7 days costs nothing per GB (the shard-hour rate covers it); on-demand Standard bills
/// it per GB-month, Advantage bills both ages at its retention rates under one component.
pub fn charges(prices: &PriceTable, billing: &Billing, usage: &Usage) -> Vec<Charge> {
    let hours = |ns: u128, started: u64| match billing.proration {
        Proration::PerSecond => ns as f64 / NANOS_PER_HOUR,
        Proration::PerStartedHour => started as f64,
    };
    let gb = |bytes: u64| bytes as f64 / BYTES_PER_GB as f64;
    let gb_months = |byte_ns: u128| byte_ns as f64 / (BYTES_PER_GB as f64 * HOURS_PER_MONTH * NANOS_PER_HOUR);
    let shortfall = advantage_shortfall(prices, billing, usage);
    let u = usage;
    let p = prices;
    let amounts = [
        (Component::ShardHours, hours(u.shard_ns, u.shard_hours_started) * p.shard_hour_usd),
        (Component::PutPayloadUnits, u.put_payload_units as f64 / 1e6 * p.put_payload_units_per_million_usd),
        (
            Component::ExtendedRetention,
            hours(u.extended_retention_shard_ns, u.extended_retention_shard_hours_started)
                * p.extended_retention_shard_hour_usd,
        ),
        (Component::LongTermRetention, gb_months(u.long_term_stored_byte_ns) * p.long_term_retention_gb_month_usd),
        (Component::LongTermRetrieval, gb(u.long_term_retrieval_bytes) * p.long_term_retrieval_gb_usd),
        (
            Component::EfoConsumerShardHours,
            hours(u.efo_consumer_shard_ns, u.efo_consumer_shard_hours_started) * p.efo_consumer_shard_hour_usd,
        ),
        (Component::EfoData, gb(u.efo_bytes) * p.efo_data_gb_usd),
        (
            Component::OnDemandStreamHours,
            hours(u.on_demand_stream_ns, u.on_demand_stream_hours_started) * p.on_demand_stream_hour_usd,
        ),
        (Component::OnDemandDataIn, gb(u.on_demand_billed_bytes_in) * p.on_demand_data_in_gb_usd),
        (Component::OnDemandDataOut, gb(u.on_demand_bytes_out) * p.on_demand_data_out_gb_usd),
        (Component::OnDemandEfoData, gb(u.on_demand_efo_bytes) * p.on_demand_efo_data_gb_usd),
        (
            Component::OnDemandExtendedRetention,
            gb_months(u.on_demand_extended_stored_byte_ns) * p.on_demand_extended_retention_gb_month_usd,
        ),
        (
            Component::OnDemandLongTermRetention,
            gb_months(u.on_demand_long_term_stored_byte_ns) * p.on_demand_long_term_retention_gb_month_usd,
        ),
        (Component::AdvantageDataIn, gb(u.advantage_billed_bytes_in) * p.advantage_data_in_gb_usd),
        (Component::AdvantageDataOut, gb(u.advantage_bytes_out) * p.advantage_data_out_gb_usd),
        (Component::AdvantageEfoData, gb(u.advantage_efo_bytes) * p.advantage_efo_data_gb_usd),
        (
            Component::AdvantageRetention,
            gb_months(u.advantage_extended_stored_byte_ns) * p.advantage_extended_retention_gb_month_usd
                + gb_months(u.advantage_long_term_stored_byte_ns) * p.advantage_long_term_retention_gb_month_usd,
        ),
        (Component::KmsRequests, u.kms_requests as f64 / 10_000.0 * p.kms_requests_per_10k_usd),
        (Component::AdvantageShortfallIn, gb(shortfall.bytes_in) * p.advantage_data_in_gb_usd),
        (Component::AdvantageShortfallOut, gb(shortfall.bytes_out) * p.advantage_data_out_gb_usd),
    ];
    debug_assert!(amounts.iter().map(|(component, _)| *component).eq(Component::ALL));
    debug_assert!(amounts.iter().all(|(_, usd)| usd.is_finite() && *usd >= 0.0), "{amounts:?}");
    amounts.into_iter().filter(|(_, usd)| *usd != 0.0).map(|(component, usd)| Charge { component, usd }).collect()
}

/// The stream's own cost: the charges not reported apart.
pub fn stream_total_usd(charges: &[Charge]) -> f64 {
    // A fold from +0: an empty f64 sum is -0, which would print as "-0".
    charges
        .iter()
        .filter(|charge| !charge.component.is_reported_apart())
        .map(|charge| charge.usd)
        .fold(0.0, |a, b| a + b)
}

/// `total_usd` spent over `simulated_seconds`, scaled to a month of [`HOURS_PER_MONTH`]
/// hours (`cost_usd_per_month`). 0 when no time was simulated.
pub fn monthly_projection_usd(total_usd: f64, simulated_seconds: f64) -> f64 {
    if simulated_seconds <= 0.0 {
        return 0.0;
    }
    total_usd * (HOURS_PER_MONTH * 3_600.0) / simulated_seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_NS: u64 = 3_600 * NANOS_PER_SEC;
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;

    fn hours_ns(hours: u64) -> u64 {
        hours * HOUR_NS
    }

    /// The charges of `usage` at us-east-1 rates with default billing options.
    fn priced(usage: &Usage) -> Vec<Charge> {
        charges(&PriceTable::us_east_1(), &Billing::default(), usage)
    }

    /// The one charge `usage` gives, which must be of `component`.
    fn only(usage: &Usage, component: Component) -> f64 {
        let charges = priced(usage);
        assert_eq!(charges.len(), 1, "{charges:?}");
        assert_eq!(charges[0].component, component);
        charges[0].usd
    }

    fn assert_usd(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "got ${actual}, expected ${expected}");
    }

    /// Within a cent: for totals published by AWS or its tools, rounded to cents.
    fn assert_cents(actual: f64, expected: f64) {
        assert!((actual - expected).abs() <= 0.005 + 1e-9, "got ${actual:.4}, expected ${expected:.2}");
    }

    #[test]
    fn put_payload_units_count_started_25_kib_chunks() {
        assert_eq!(put_payload_units(0), 1);
        assert_eq!(put_payload_units(1), 1);
        assert_eq!(put_payload_units(25_600), 1);
        assert_eq!(put_payload_units(25_601), 2);
        // Pricing §2.1, the page's examples: 5 KB = 1 unit, 45 KB = 2, 1 MB = 40 (1 MB read
        // as 1,000 KB; a full MiB, 1,048,576 bytes = 40.96 units, is 41).
        assert_eq!(put_payload_units(5 * 1024), 1);
        assert_eq!(put_payload_units(45 * 1024), 2);
        assert_eq!(put_payload_units(1_000 * 1024), 40);
        assert_eq!(put_payload_units(MIB), 41);
        // W3 (pricing §2.1): "3 KB / 25 = 0.12 ... RoundUp (0.12) = 1".
        assert_eq!(put_payload_units(3 * 1024), 1);
    }

    #[test]
    fn on_demand_billed_bytes_round_up_to_1_kib() {
        assert_eq!(on_demand_billed_bytes(0), 1024);
        assert_eq!(on_demand_billed_bytes(1), 1024);
        assert_eq!(on_demand_billed_bytes(1024), 1024);
        assert_eq!(on_demand_billed_bytes(1025), 2048);
        // Pricing §3.1: a 4.5 KB record counts as 5 KB.
        assert_eq!(on_demand_billed_bytes(4608), 5 * 1024);
    }

    #[test]
    fn us_east_1_rates_are_those_of_the_reference() {
        let p = PriceTable::us_east_1();
        assert_eq!(p.region, "us-east-1");
        let rates = [
            (p.shard_hour_usd, 0.015),
            (p.put_payload_units_per_million_usd, 0.014),
            (p.extended_retention_shard_hour_usd, 0.020),
            (p.long_term_retention_gb_month_usd, 0.023),
            (p.long_term_retrieval_gb_usd, 0.021),
            (p.efo_consumer_shard_hour_usd, 0.015),
            (p.efo_data_gb_usd, 0.013),
            (p.on_demand_stream_hour_usd, 0.04),
            (p.on_demand_data_in_gb_usd, 0.08),
            (p.on_demand_data_out_gb_usd, 0.04),
            (p.on_demand_efo_data_gb_usd, 0.05),
            (p.on_demand_extended_retention_gb_month_usd, 0.10),
            (p.on_demand_long_term_retention_gb_month_usd, 0.023),
            (p.advantage_data_in_gb_usd, 0.032),
            (p.advantage_data_out_gb_usd, 0.016),
            (p.advantage_efo_data_gb_usd, 0.016),
            (p.advantage_extended_retention_gb_month_usd, 0.023),
            (p.advantage_long_term_retention_gb_month_usd, 0.023),
            (p.kms_requests_per_10k_usd, 0.03),
        ];
        for (index, (actual, expected)) in rates.into_iter().enumerate() {
            assert_eq!(actual, expected, "rate {index}");
        }
        assert_eq!(p.advantage_commitment_in_bytes_per_s, 25 * MIB);
        assert_eq!(p.advantage_commitment_out_bytes_per_s, 25 * MIB);
    }

    #[test]
    fn component_names_are_the_contract() {
        let names: Vec<&str> = Component::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "shard_hours",
                "put_payload_units",
                "extended_retention",
                "long_term_retention",
                "long_term_retrieval",
                "efo_consumer_shard_hours",
                "efo_data",
                "on_demand_stream_hours",
                "on_demand_data_in",
                "on_demand_data_out",
                "on_demand_efo_data",
                "on_demand_extended_retention",
                "on_demand_long_term_retention",
                "advantage_data_in",
                "advantage_data_out",
                "advantage_efo_data",
                "advantage_retention",
                "kms_requests",
                "advantage_shortfall_in",
                "advantage_shortfall_out",
            ]
        );
        let apart: Vec<Component> = Component::ALL.into_iter().filter(|c| c.is_reported_apart()).collect();
        assert_eq!(apart, [Component::AdvantageShortfallIn, Component::AdvantageShortfallOut]);
    }

    #[test]
    fn no_usage_costs_nothing() {
        assert!(priced(&Usage::default()).is_empty());
        assert!(priced(&Usage { interval_ns: hours_ns(1), ..Usage::default() }).is_empty());
    }

    #[test]
    fn shard_hours() {
        // 4 shards for 1 h = 4 shard-hours × $0.015 = $0.06.
        let usage = Usage { interval_ns: hours_ns(1), shard_ns: 4 * u128::from(HOUR_NS), ..Usage::default() };
        assert_usd(only(&usage, Component::ShardHours), 0.06);
        // 1 shard for 90 s = 0.025 shard-hours × $0.015 = $0.000375 pro-rated, or one
        // started shard-hour = $0.015.
        let usage = Usage { shard_ns: 90 * u128::from(NANOS_PER_SEC), shard_hours_started: 1, ..Usage::default() };
        assert_usd(only(&usage, Component::ShardHours), 0.000375);
        let whole = Billing { proration: Proration::PerStartedHour, ..Billing::default() };
        assert_usd(charges(&PriceTable::us_east_1(), &whole, &usage)[0].usd, 0.015);
    }

    #[test]
    fn put_payload_units_charge() {
        // 1,000 records/s of 30 KiB for 1 h = 3,600,000 records × 2 units = 7,200,000 units
        // = 7.2 M × $0.014 = $0.1008.
        let mut usage = Usage { interval_ns: hours_ns(1), ..Usage::default() };
        usage.add_writes(CapacityMode::Provisioned, 30 * 1024, 3_600_000);
        assert_eq!(usage.put_payload_units, 7_200_000);
        assert_usd(only(&usage, Component::PutPayloadUnits), 0.1008);
    }

    #[test]
    fn extended_retention_is_flat_per_shard_hour() {
        // 4 shards for 1 h with retention 48 h: 4 shard-hours × $0.015 = $0.06 and
        // 4 extended shard-hours × $0.020 = $0.08, whatever the stream holds.
        let usage = Usage {
            interval_ns: hours_ns(1),
            shard_ns: 4 * u128::from(HOUR_NS),
            extended_retention_shard_ns: 4 * u128::from(HOUR_NS),
            ..Usage::default()
        };
        let charges = priced(&usage);
        assert_eq!(charges.len(), 2);
        assert_eq!(charges[1].component, Component::ExtendedRetention);
        assert_usd(charges[1].usd, 0.08);
        assert_usd(stream_total_usd(&charges), 0.14);
        // Retention raised above 24 h for the last 10 minutes of the hour, 1 shard:
        // 1/6 shard-hour × $0.020 = $0.003333, or one started hour = $0.020.
        let usage = Usage {
            extended_retention_shard_ns: u128::from(HOUR_NS) / 6,
            extended_retention_shard_hours_started: 1,
            ..Usage::default()
        };
        assert_usd(only(&usage, Component::ExtendedRetention), 0.02 / 6.0);
        let whole = Billing { proration: Proration::PerStartedHour, ..Billing::default() };
        assert_usd(charges_of(&whole, &usage, Component::ExtendedRetention), 0.02);
    }

    fn charges_of(billing: &Billing, usage: &Usage, component: Component) -> f64 {
        let charges = charges(&PriceTable::us_east_1(), billing, usage);
        charges.iter().find(|c| c.component == component).map_or(0.0, |c| c.usd)
    }

    #[test]
    fn long_term_retention_beyond_7_days() {
        // 100 GiB older than 7 days held for 730 h = 100 GB-months × $0.023 = $2.30.
        let usage =
            Usage { long_term_stored_byte_ns: u128::from(100 * GIB) * u128::from(hours_ns(730)), ..Usage::default() };
        assert_usd(only(&usage, Component::LongTermRetention), 2.30);
        // The same for 1 h: 100 / 730 GB-months × $0.023 = $0.0031507.
        let usage = Usage { long_term_stored_byte_ns: u128::from(100 * GIB) * u128::from(HOUR_NS), ..Usage::default() };
        assert_usd(only(&usage, Component::LongTermRetention), 100.0 / 730.0 * 0.023);
    }

    #[test]
    fn long_term_retrieval() {
        // 10 GiB read that was older than 7 days: 10 GB × $0.021 = $0.21.
        let usage = Usage { long_term_retrieval_bytes: 10 * GIB, ..Usage::default() };
        assert_usd(only(&usage, Component::LongTermRetrieval), 0.21);
    }

    #[test]
    fn fan_out_consumer_shard_hours_and_data() {
        // 2 consumers on 4 shards for 1 h = 8 consumer-shard-hours × $0.015 = $0.12.
        let mut usage = Usage { efo_consumer_shard_ns: 2 * 4 * u128::from(HOUR_NS), ..Usage::default() };
        assert_usd(only(&usage, Component::EfoConsumerShardHours), 0.12);
        // Each consumer receives 1 MiB/s for 1 h: 2 × 3,600 MiB = 7,200 MiB = 7.03125 GB
        // × $0.013 = $0.09140625. Shared GetRecords reads in provisioned mode are free.
        usage.add_reads(CapacityMode::Provisioned, true, 3_600 * MIB);
        usage.add_reads(CapacityMode::Provisioned, true, 3_600 * MIB);
        usage.add_reads(CapacityMode::Provisioned, false, 3_600 * MIB);
        let charges = priced(&usage);
        assert_eq!(charges.len(), 2);
        assert_eq!(charges[1].component, Component::EfoData);
        assert_usd(charges[1].usd, 0.091_406_25);
        assert_usd(stream_total_usd(&charges), 0.12 + 0.091_406_25);
    }

    #[test]
    fn on_demand_stream_hours() {
        // 1 stream for 1 h = 1 stream-hour × $0.04 = $0.04.
        let usage = Usage { on_demand_stream_ns: u128::from(HOUR_NS), ..Usage::default() };
        assert_usd(only(&usage, Component::OnDemandStreamHours), 0.04);
    }

    #[test]
    fn on_demand_data_in_rounds_each_record_to_1_kib() {
        // 1,000 records/s of 1,025 bytes for 1 h: 3,600,000 records, each billed 2,048
        // bytes = 7,372,800,000 bytes = 6.866455078125 GB × $0.08 = $0.54931640625
        // (unrounded it would be 3.436 GB, $0.2749).
        let mut usage = Usage::default();
        usage.add_writes(CapacityMode::OnDemand, 1_025, 3_600_000);
        assert_eq!(usage.on_demand_billed_bytes_in, 7_372_800_000);
        assert_usd(only(&usage, Component::OnDemandDataIn), 0.549_316_406_25);
    }

    #[test]
    fn on_demand_data_out_counts_every_consumer_application() {
        // Two applications each read 3,600,000 records of 1,025 bytes: 2 × 3,690,000,000 =
        // 7,380,000,000 bytes, not rounded = 6.873160600662 GB × $0.04 = $0.274926424026.
        let mut usage = Usage::default();
        usage.add_reads(CapacityMode::OnDemand, false, 3_690_000_000);
        usage.add_reads(CapacityMode::OnDemand, false, 3_690_000_000);
        assert_usd(only(&usage, Component::OnDemandDataOut), 7_380_000_000.0 / GIB as f64 * 0.04);
        assert_usd(only(&usage, Component::OnDemandDataOut), 0.274_926_424_026);
    }

    #[test]
    fn on_demand_efo_data() {
        // 2 GiB delivered to fan-out consumers: 2 GB × $0.05 = $0.10, no consumer-shard-hours.
        let mut usage = Usage::default();
        usage.add_reads(CapacityMode::OnDemand, true, 2 * GIB);
        assert_usd(only(&usage, Component::OnDemandEfoData), 0.10);
    }

    #[test]
    fn on_demand_retention_per_gb_month() {
        // 730 GiB aged 24 h to 7 days held for 1 h = 730 GiB-hours = 1 GB-month × $0.10.
        let byte_ns = u128::from(730 * GIB) * u128::from(HOUR_NS);
        let usage = Usage { on_demand_extended_stored_byte_ns: byte_ns, ..Usage::default() };
        assert_usd(only(&usage, Component::OnDemandExtendedRetention), 0.10);
        // The same bytes older than 7 days: 1 GB-month × $0.023.
        let usage = Usage { on_demand_long_term_stored_byte_ns: byte_ns, ..Usage::default() };
        assert_usd(only(&usage, Component::OnDemandLongTermRetention), 0.023);
    }

    #[test]
    fn advantage_rates() {
        // Advantage for 1 h with the account far above the floor (no shortfall):
        // in 10 GiB × $0.032 = $0.32; out 5 GiB × $0.016 = $0.08; fan-out 5 GiB × $0.016 =
        // $0.08; retention 730 GiB-hours aged 24 h-7 d + 730 GiB-hours older = 2 GB-months
        // × $0.023 = $0.046. Total $0.526, no stream-hour charge.
        let billing =
            Billing { advantage_other_in_bytes_per_s: GIB, advantage_other_out_bytes_per_s: GIB, ..Billing::default() };
        let byte_ns = u128::from(730 * GIB) * u128::from(HOUR_NS);
        let mut usage = Usage {
            interval_ns: hours_ns(1),
            advantage_commitment_ns: hours_ns(1),
            advantage_extended_stored_byte_ns: byte_ns,
            advantage_long_term_stored_byte_ns: byte_ns,
            ..Usage::default()
        };
        usage.add_writes(CapacityMode::OnDemandAdvantage, 1024, 10 * MIB);
        usage.add_reads(CapacityMode::OnDemandAdvantage, false, 5 * GIB);
        usage.add_reads(CapacityMode::OnDemandAdvantage, true, 5 * GIB);
        let charges = charges(&PriceTable::us_east_1(), &billing, &usage);
        let components: Vec<Component> = charges.iter().map(|c| c.component).collect();
        assert_eq!(
            components,
            [
                Component::AdvantageDataIn,
                Component::AdvantageDataOut,
                Component::AdvantageEfoData,
                Component::AdvantageRetention
            ]
        );
        let usd: Vec<f64> = charges.iter().map(|c| c.usd).collect();
        for (actual, expected) in usd.into_iter().zip([0.32, 0.08, 0.08, 0.046]) {
            assert_usd(actual, expected);
        }
        assert_usd(stream_total_usd(&charges), 0.526);
    }

    #[test]
    fn advantage_shortfall_is_the_accounts_and_reported_apart() {
        // 1 h with the commitment on. Floor: 25 MiB/s × 3,600 s = 90,000 MiB each way.
        // In: the stream writes 5 MiB/s (18,000 MiB), the account's other streams 10 MiB/s
        // (36,000 MiB): 54,000 MiB, short by 36,000 MiB = 35.15625 GB × $0.032 = $1.125.
        // Out: the stream's 5 MiB/s of reads and 5 MiB/s of fan-out, the others' 20 MiB/s:
        // 30 MiB/s >= 25, no shortfall.
        let billing = Billing {
            advantage_other_in_bytes_per_s: 10 * MIB,
            advantage_other_out_bytes_per_s: 20 * MIB,
            ..Billing::default()
        };
        let mut usage = Usage { interval_ns: hours_ns(1), advantage_commitment_ns: hours_ns(1), ..Usage::default() };
        usage.add_writes(CapacityMode::OnDemandAdvantage, 1024, 18_000 * 1024);
        usage.add_reads(CapacityMode::OnDemandAdvantage, false, 18_000 * MIB);
        usage.add_reads(CapacityMode::OnDemandAdvantage, true, 18_000 * MIB);
        let shortfall = advantage_shortfall(&PriceTable::us_east_1(), &billing, &usage);
        assert_eq!(shortfall, AdvantageShortfall { bytes_in: 36_000 * MIB, bytes_out: 0 });
        let charges = charges(&PriceTable::us_east_1(), &billing, &usage);
        let shortfall_in = charges.iter().find(|c| c.component == Component::AdvantageShortfallIn).unwrap();
        assert_usd(shortfall_in.usd, 1.125);
        assert!(charges.iter().all(|c| c.component != Component::AdvantageShortfallOut));
        // The stream's own total: in 17.578125 GB × $0.032 + out 2 × 17.578125 GB × $0.016.
        assert_usd(stream_total_usd(&charges), 17.578_125 * 0.032 + 35.156_25 * 0.016);

        // Alone in the account for half an hour, writing and reading nothing: the floor
        // accrues only while the commitment is on, 25 MiB/s × 1,800 s = 45,000 MiB =
        // 43.9453125 GB each way: in $1.40625, out $0.703125.
        let idle = Usage { interval_ns: hours_ns(1), advantage_commitment_ns: hours_ns(1) / 2, ..Usage::default() };
        let charges = priced(&idle);
        assert_eq!(charges.len(), 2);
        assert_usd(charges[0].usd, 1.406_25);
        assert_usd(charges[1].usd, 0.703_125);
        assert_usd(stream_total_usd(&charges), 0.0);
    }

    #[test]
    fn kms_requests() {
        // About 12 calls per 5 minutes (facts §10.1): 144 in 1 h × $0.03 / 10,000 =
        // $0.000432.
        let usage = Usage { kms_requests: 144, ..Usage::default() };
        assert_usd(only(&usage, Component::KmsRequests), 0.000_432);
    }

    #[test]
    fn usage_adds_field_by_field() {
        let mut first = Usage {
            interval_ns: hours_ns(1),
            shard_ns: 2 * u128::from(HOUR_NS),
            shard_hours_started: 2,
            put_payload_units: 1_000,
            on_demand_bytes_out: 7,
            advantage_long_term_stored_byte_ns: 11,
            kms_requests: 12,
            ..Usage::default()
        };
        let second = Usage {
            interval_ns: hours_ns(1),
            shard_ns: 3 * u128::from(HOUR_NS),
            shard_hours_started: 3,
            put_payload_units: 500,
            efo_bytes: 5,
            kms_requests: 1,
            ..Usage::default()
        };
        first.add(&second);
        assert_eq!(
            first,
            Usage {
                interval_ns: hours_ns(2),
                shard_ns: 5 * u128::from(HOUR_NS),
                shard_hours_started: 5,
                put_payload_units: 1_500,
                efo_bytes: 5,
                on_demand_bytes_out: 7,
                advantage_long_term_stored_byte_ns: 11,
                kms_requests: 13,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn charges_of_a_sum_are_the_sum_of_charges() {
        // Every component but the shortfall is linear in usage.
        let hour = Usage {
            interval_ns: hours_ns(1),
            shard_ns: 3 * u128::from(HOUR_NS),
            put_payload_units: 123_456,
            efo_bytes: 5 * GIB,
            on_demand_billed_bytes_in: 3 * GIB,
            advantage_bytes_out: GIB,
            kms_requests: 144,
            ..Usage::default()
        };
        let mut two = hour;
        two.add(&hour);
        let once = priced(&hour);
        let twice = priced(&two);
        assert_eq!(once.len(), twice.len());
        for (one, both) in once.iter().zip(&twice) {
            assert_eq!(one.component, both.component);
            assert_usd(both.usd, 2.0 * one.usd);
        }
    }

    #[test]
    fn monthly_projection_scales_to_730_hours() {
        // $0.06 in 1 h (4 shards) = $0.06 × 730 = $43.80 a month.
        assert_usd(monthly_projection_usd(0.06, 3_600.0), 43.80);
        assert_usd(monthly_projection_usd(1.0, 730.0 * 3_600.0), 1.0);
        assert_eq!(monthly_projection_usd(5.0, 0.0), 0.0);
    }

    // Validation: totals published by AWS or its tools, as quoted in the pricing reference.

    #[test]
    fn validation_infracost_shard_hours() {
        // Pricing §2, infracost golden file: 730 shard-hours → $10.95, 2,920 → $43.80.
        let one = Usage { shard_ns: u128::from(hours_ns(730)), ..Usage::default() };
        assert_cents(only(&one, Component::ShardHours), 10.95);
        let four = Usage { shard_ns: 4 * u128::from(hours_ns(730)), ..Usage::default() };
        assert_cents(only(&four, Component::ShardHours), 43.80);
    }

    #[test]
    fn validation_infracost_per_gb_dimensions() {
        // Pricing §2: 100 GB of long-term retrieval → $2.10; 100 GB of fan-out data → $1.30.
        let retrieval = Usage { long_term_retrieval_bytes: 100 * GIB, ..Usage::default() };
        assert_cents(only(&retrieval, Component::LongTermRetrieval), 2.10);
        let fan_out = Usage { efo_bytes: 100 * GIB, ..Usage::default() };
        assert_cents(only(&fan_out, Component::EfoData), 1.30);
        // Pricing §3: an on-demand stream for 730 h → $29.20.
        let stream = Usage { on_demand_stream_ns: u128::from(hours_ns(730)), ..Usage::default() };
        assert_cents(only(&stream, Component::OnDemandStreamHours), 29.20);
    }

    #[test]
    fn validation_advantage_floor() {
        // Pricing §4: alone in the account with no traffic for a day, 25 MiB/s × 86,400 s
        // = 2,160,000 MiB = 2,109.375 GB each way: in $67.50 + out $33.75 = $101.25/day.
        let day = Usage { interval_ns: hours_ns(24), advantage_commitment_ns: hours_ns(24), ..Usage::default() };
        let charges = priced(&day);
        assert_cents(charges[0].usd, 67.50);
        assert_cents(charges[1].usd, 33.75);
        assert_cents(charges.iter().map(|c| c.usd).sum(), 101.25);
        // For a 730-hour month the reference computes $3,079.69 (= 64,160.15625 GB ×
        // $0.048). Its W4c capture of the AWS Pricing Calculator shows $3,079.73: 4 cents
        // more, from the calculator's own rounding, which the reference does not show.
        let month = Usage { interval_ns: hours_ns(730), advantage_commitment_ns: hours_ns(730), ..Usage::default() };
        let total: f64 = priced(&month).iter().map(|c| c.usd).sum();
        assert_cents(total, 3_079.69);
        assert!((total - 3_079.73).abs() < 0.05);
    }

    #[test]
    fn validation_kms_month() {
        // Facts §10.1, derived: 12 calls / 5 min for 30 days = 103,680 calls ≈ $0.31.
        let usage = Usage { kms_requests: 12 * 12 * 24 * 30, ..Usage::default() };
        assert_eq!(usage.kms_requests, 103_680);
        assert_cents(only(&usage, Component::KmsRequests), 0.31);
    }

    #[test]
    fn classic_provisioned_example_inputs() {
        // W1's inputs (pricing §0, the 2014-2015 pricing page): 100 records/s of 35 KB for a
        // 31-day month (744 h). The figures below are this module's arithmetic; the page's
        // published figures are not in the reference, so this is not a validation case.
        // 3.4 MB/s needs 4 shards: 4 × 744 = 2,976 shard-hours × $0.015 = $44.64.
        // 35 KB = 2 units: 100 × 2 × 2,678,400 s = 535,680,000 units × $0.014/M = $7.49952.
        let mut usage =
            Usage { interval_ns: hours_ns(744), shard_ns: 4 * u128::from(hours_ns(744)), ..Usage::default() };
        usage.add_writes(CapacityMode::Provisioned, 35 * 1024, 100 * 2_678_400);
        assert_eq!(usage.put_payload_units, 535_680_000);
        let charges = priced(&usage);
        assert_usd(charges[0].usd, 44.64);
        assert_usd(charges[1].usd, 7.499_52);
        assert_cents(stream_total_usd(&charges), 52.14);
    }
}
