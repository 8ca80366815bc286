// Tests go here; see the README's Testing section.
