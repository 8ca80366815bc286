print("tally-bench: see ops/bench")
