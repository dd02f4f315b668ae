"""Whether to answer at all: the answerability checks and the one calibrated confidence."""
