// Package image talks to image registries for imports and pulls: image
// references with Docker Hub's normalisation, a credential keyring read
// from dockercfg/dockerconfigjson secrets, and a registry client on
// go-containerregistry that resolves tags with a manifest HEAD, imports
// images and manifest lists into imagev1.Image objects, lists tags, and
// classifies failures as the reasons of ImportSuccess conditions. Its
// transport rules are the builds': HTTPS verified, plain HTTP only to
// loopback or insecure registries.
package image
