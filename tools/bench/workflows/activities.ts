/** No-op activities of the bare-Temporal baseline: the cost of an activity without any I/O behind it. */
export function createBenchActivities() {
  return {
    /** Does nothing and returns at once. */
    async benchNoop(_input: { step: number }): Promise<void> {},
  };
}

/** The baseline's activity functions, for `proxyActivities` typing. */
export type BenchActivities = ReturnType<typeof createBenchActivities>;
