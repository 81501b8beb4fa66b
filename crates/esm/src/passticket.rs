//! PassTicket algorithms.
