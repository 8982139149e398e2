//! awslabs/amazon-kinesis-scaling-utils configuration files.
