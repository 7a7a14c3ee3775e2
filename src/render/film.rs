//! The film: accumulates `TileResult`s into a full frame.
