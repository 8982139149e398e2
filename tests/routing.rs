//! Routing against reference values: AWS's published hash ranges and MD5 test vectors.

mod common;

use kinesim_models::routing::{hash_key, initial_ranges, shard_index_for};

/// MD5 digests from RFC 1321's test suite (appendix A.5), computed independently of
/// the md-5 crate the simulator uses.
const RFC1321: &[(&str, &str)] = &[
    ("", "d41d8cd98f00b204e9800998ecf8427e"),
    ("a", "0cc175b9c0f1b6a831c399e269772661"),
    ("abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
];

#[test]
fn partition_keys_hash_as_big_endian_md5() {
    for (key, digest) in RFC1321 {
        assert_eq!(hash_key(key), u128::from_str_radix(digest, 16).unwrap(), "key {key:?}");
    }
}

#[test]
fn three_shard_stream_routes_by_the_published_ranges() {
    // reference/kinesis-facts.md §1.3 (aws-cli describe-stream example).
    let boundary_1: u128 = "113427455640312821154458202477256070485".parse().unwrap();
    let boundary_2: u128 = "226854911280625642308916404954512140970".parse().unwrap();
    let ranges = initial_ranges(3);
    assert_eq!((ranges[1].start, ranges[2].start), (boundary_1, boundary_2));
    for (key, digest) in RFC1321.iter().skip(1) {
        let hash = u128::from_str_radix(digest, 16).unwrap();
        let expected = if hash < boundary_1 {
            0
        } else if hash < boundary_2 {
            1
        } else {
            2
        };
        assert_eq!(shard_index_for(&ranges, hash_key(key)), expected, "key {key:?}");
    }
    assert_eq!(shard_index_for(&ranges, boundary_1 - 1), 0);
    assert_eq!(shard_index_for(&ranges, boundary_1), 1);
    assert_eq!(shard_index_for(&ranges, u128::MAX), 2);
}

#[test]
fn shard_for_prints_shard_and_hash() {
    let output = common::kinesim().args(["shard-for", "--shards", "3", "abc", "a"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let abc = u128::from_str_radix("900150983cd24fb0d6963f7d28e17f72", 16).unwrap();
    let a = u128::from_str_radix("0cc175b9c0f1b6a831c399e269772661", 16).unwrap();
    assert_eq!(text, format!("abc\tshardId-000000000001\t{abc}\na\tshardId-000000000000\t{a}\n"));
}
