"""From the chosen sentences to a checked answer: citation ids, verbatim spans, composition and
verification of each claim against the sentences it cites."""
