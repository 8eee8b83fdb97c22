//! Messages between berthd and berth-shim (being written).
