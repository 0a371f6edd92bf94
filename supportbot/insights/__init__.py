"""What production teaches: reports, FAQ gaps, and real conversations turned into tests."""
