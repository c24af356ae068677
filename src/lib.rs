//! consentry: reads who is depicted in photos and videos and checks their consent.
pub mod media;
