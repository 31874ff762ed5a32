"""K-fold consistency filter: drop samples whose image disagrees with their pose label."""
