"""Understanding questions: text in English or Chinese to typed queries, with no model."""
