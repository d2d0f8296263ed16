"""The HTML kit: offline pages (plotly and circuitsvis inlined or shared), neuron and head views, static
figures. Renders what the analysis measured; it never trains, and runs a model only to draw attention
patterns (through :mod:`simplestories_interp.analysis.patterns`)."""
