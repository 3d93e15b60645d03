"""The offline gate: run any Pulumi Python program under mocks, judge it with a policy pack over the analyzer
protocol exactly as the Pulumi CLI would, and report. It fails closed and never needs cloud credentials."""
