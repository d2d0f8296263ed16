"""``ssi explore``: an offline model debugger in the browser (prompt, attribution, components, ablation)."""
