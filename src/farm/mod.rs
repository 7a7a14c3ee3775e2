//! The render farm: coordinator, workers and client.
