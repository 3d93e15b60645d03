"""The ModelFort policy pack as a library: rules as pure functions, tiers, waivers, and the pack assembly.

The pack judges resources as the engine sends them (engine property names, camelCase), so it judges programs that
do not use ModelFort components just as well. It never imports the components.
"""
