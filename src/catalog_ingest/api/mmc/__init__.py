"""Merchant-Center-compatible catalog Status resource routes and rendering."""
