//! Unit tests of the kernel emitter (through the simulator and ptxas).
