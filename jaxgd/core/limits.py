"""Numbers the packages agree on."""

MAX_INT32 = 2**31 - 1  # epochs and update counts are int32 counters on the device
DEFAULT_INIT_TIMEOUT = 120.0  # seconds for every process of a multi-process run to join
MAX_SWEEP_RUNS = 2**20  # runs in one sweep grid: beyond this the grid alone fills gigabytes of host memory
