//! The `external` policy: a user program speaking JSON lines over stdin/stdout.
