//! awslabs/amazon-kinesis-scaling-utils decision rules (reference/scaling-policies.md §1.1).
