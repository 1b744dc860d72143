// Package auth decides who a request comes from and what it may do: the
// admin token written at first start, and the service account tokens the
// project controller stores in `kubernetes.io/service-account-token` secrets.
package auth

import (
	"context"
	"crypto/subtle"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// AdminUser is the name the admin token authenticates as.
const AdminUser = "system:admin"

// tokenIndex indexes service account token secrets by their token.
const tokenIndex = "slipway.dev/sa-token"

// TokenAuthenticator authenticates the admin token and service account tokens.
type TokenAuthenticator struct {
	adminToken string
	secrets    cache.Indexer
	sas        corelisters.ServiceAccountLister
}

// AddTokenIndex adds the index NewTokenAuthenticator needs to a secret
// informer; call it before the informer starts.
func AddTokenIndex(secrets cache.SharedIndexInformer) error {
	return secrets.AddIndexers(cache.Indexers{tokenIndex: func(obj any) ([]string, error) {
		s, ok := obj.(*corev1.Secret)
		if !ok || s.Type != corev1.SecretTypeServiceAccountToken || len(s.Data[corev1.ServiceAccountTokenKey]) == 0 {
			return nil, nil
		}
		return []string{string(s.Data[corev1.ServiceAccountTokenKey])}, nil
	}})
}

// NewTokenAuthenticator returns an authenticator for adminToken and for the
// tokens of the secrets indexed by AddTokenIndex.
func NewTokenAuthenticator(adminToken string, secrets cache.Indexer, sas corelisters.ServiceAccountLister) *TokenAuthenticator {
	return &TokenAuthenticator{adminToken: adminToken, secrets: secrets, sas: sas}
}

// AuthenticateToken implements authenticator.Token.
func (a *TokenAuthenticator) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	if token == "" {
		return nil, false, nil
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(a.adminToken)) == 1 {
		return &authenticator.Response{User: &user.DefaultInfo{
			Name:   AdminUser,
			Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated},
		}}, true, nil
	}
	objs, err := a.secrets.ByIndex(tokenIndex, token)
	if err != nil {
		return nil, false, err
	}
	for _, obj := range objs {
		s := obj.(*corev1.Secret)
		name := s.Annotations[corev1.ServiceAccountNameKey]
		if name == "" || s.DeletionTimestamp != nil {
			continue
		}
		sa, err := a.sas.ServiceAccounts(s.Namespace).Get(name)
		if errors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("looking up service account %s/%s: %w", s.Namespace, name, err)
		}
		if uid := s.Annotations[corev1.ServiceAccountUIDKey]; uid != "" && uid != string(sa.UID) {
			continue
		}
		return &authenticator.Response{User: serviceaccount.UserInfo(sa.Namespace, sa.Name, string(sa.UID))}, true, nil
	}
	return nil, false, nil
}
