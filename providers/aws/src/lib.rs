//! cairn-aws: the AWS provider (in progress).
