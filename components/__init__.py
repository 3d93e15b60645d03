"""The ModelFort component library: secure-by-default Pulumi components, the typed stack config and the composer.

Components import only the Pulumi SDKs; they never import the policy pack, which judges them independently.
"""
