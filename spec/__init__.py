"""The executable fsdax specification: state, vocabulary, actions, designs, model."""
