// Package config reads zk-flock's JSON configuration file.
package config
